from io import StringIO

from django.core.management import call_command

from accounts.models import Account
from messaging.models import Message
from pools.models import StickyMapping


def test_benchmark_reports_both_paths_per_pool_size_and_leaves_nothing_behind(db):
    out = StringIO()

    call_command("benchmark_selection", numbers="3,7", sends=4, stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "pool of     3 numbers",
        "pool of     3 numbers",
        "pool of     7 numbers",
        "pool of     7 numbers",
    ]
    assert "new recipient" in lines[0] and "sticky hit" in lines[1]
    assert all("median" in line and "p95" in line for line in lines)
    assert not Account.objects.exists()
    assert not Message.objects.exists()
    assert not StickyMapping.objects.exists()
