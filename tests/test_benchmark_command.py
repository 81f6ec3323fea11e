"""manage.py benchmark (SPEC §15): the pieces that do not depend on the clock.

Performance is read from the benchmark's report, never asserted here. These tests
check that it seeds what it says, counts statements exactly, drives wrk with the mix
it claims and reads what wrk reports, and draws its verdicts from given figures.
"""

import json
import shutil
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import dj_database_url
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient, APIRequestFactory

from accounts.models import Account
from accounts.services import api_key_create
from messaging.models import Message
from pools.benchmark import seed, server, wrk
from pools.benchmark.plan import BROKER, EMBEDDED, Plan, Scenario
from pools.benchmark.report import Run, send_line, targets
from pools.benchmark.statements import (
    NOT_COUNTED,
    PoolStatements,
    SendStatements,
    pool_statements,
)
from pools.models import PoolNumber, StickyMapping
from pools_project.bare import BareApi
from tests.factories import AccountFactory
from virtual_numbers.nanp import area_code
from virtual_numbers.phone import parse_e164

# Seeding


def test_a_seeded_pool_maps_its_known_recipients_evenly_to_numbers_of_their_area_code(db):
    bench = seed.pool_seed(account=AccountFactory(), size=7, known=40)

    pool_numbers = PoolNumber.objects.filter(pool=bench.pool).select_related("number")
    assert len(pool_numbers) == 7
    for pool_number in pool_numbers:
        number = pool_number.number
        assert (number.country, number.area_code) == ("US", number.number[2:5])
        assert number.location == area_code(number.area_code).location
    mappings = StickyMapping.objects.filter(pool=bench.pool).select_related("pool_number__number")
    assert {m.recipient for m in mappings} == {
        seed.known_recipient(bench.codes, i) for i in range(40)
    }
    assert all(m.recipient[2:5] == m.pool_number.number.area_code for m in mappings)
    assert_counters_true(bench)
    assert (
        max(pn.mapping_count for pn in pool_numbers) - min(pn.mapping_count for pn in pool_numbers)
        <= 1
    )


def assert_counters_true(bench, extra_assignments: Counter | None = None):
    extra_assignments = extra_assignments or Counter()
    live = Counter(
        StickyMapping.objects.filter(pool=bench.pool).values_list("pool_number_id", flat=True)
    )
    for pool_number in PoolNumber.objects.filter(pool=bench.pool):
        assert pool_number.mapping_count == live[pool_number.pk]
        assert (
            pool_number.assignment_count == live[pool_number.pk] + extra_assignments[pool_number.pk]
        )


def test_growing_the_table_adds_known_recipients_and_keeps_the_counters_true(db):
    bench = seed.pool_seed(account=AccountFactory(), size=5, known=10)
    # A number that took new assignments without a mapping (a send with sticky off).
    earlier = PoolNumber.objects.filter(pool=bench.pool).first()
    PoolNumber.objects.filter(pk=earlier.pk).update(assignment_count=earlier.assignment_count + 3)

    seed.mappings_seed(bench, known=33)

    assert bench.known == 33
    assert StickyMapping.objects.filter(pool=bench.pool).count() == 33
    assert_counters_true(bench, Counter({earlier.pk: 3}))


@pytest.mark.postgres
def test_the_benchmarks_account_goes_with_more_messages_than_one_statement_takes(db):
    """A full benchmark sends more messages than PostgreSQL takes parameters in one
    statement (65,535): one cascade over all of them would fail at the end of the run."""
    account = seed.tenant_create().account
    Message.objects.bulk_create(
        Message(account=account, to="+12125550100", sender="+12125550199", body="hi")
        for _ in range(2**16)
    )

    seed.tenant_delete()

    assert not Account.objects.filter(name=seed.ACCOUNT_NAME).exists()
    assert not Message.objects.exists()


def test_known_recipients_new_recipients_and_the_pools_numbers_never_meet(db):
    codes = seed.area_codes()[:3]
    known = {seed.known_recipient(codes, i) for i in range(3000)}
    new = {seed.new_recipient(codes, i) for i in range(3000)}
    bench = seed.pool_seed(account=AccountFactory(), size=3, known=0)
    senders = set(
        PoolNumber.objects.filter(pool=bench.pool).values_list("number__number", flat=True)
    )

    assert len(known) == len(new) == 3000
    assert not known & new and not known & senders and not new & senders
    for recipient in (*sorted(known)[::500], *sorted(new)[::500]):
        assert parse_e164(recipient).area_code in codes


# Statements


def test_statements_are_counted_for_a_sticky_hit_and_a_new_recipient_and_nothing_stays(db):
    account = AccountFactory()
    bench = seed.pool_seed(account=account, size=3, known=4)
    raw_key = api_key_create(account=account).raw_key

    measured = pool_statements(
        pool_id=bench.pool.pk,
        raw_key=raw_key,
        known=[seed.known_recipient(bench.codes, i) for i in (0, 1)],
        new=[seed.new_recipient(bench.codes, i) for i in (0, 1)],
    )

    for send in (measured.sticky_hit, measured.new_recipient):
        assert send.request and send.dispatch  # the embedded dispatch is counted apart
        assert not [sql for sql in send.request if sql.upper().startswith(NOT_COUNTED)]
    assert any("pools_stickymapping" in sql for sql in measured.new_recipient.request)
    assert not Message.objects.exists()
    assert StickyMapping.objects.count() == 4
    assert_counters_true(bench)


# wrk and send.lua


class Recorder(BaseHTTPRequestHandler):
    """Answers 200, or 404 to new recipients (to count non-2xx), and keeps what it got."""

    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    received: list = []
    known: set = set()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, self.headers["Authorization"], body["to"]))
        status = 200 if body["to"] in self.known else 404
        answer = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install -y wrk)")
def test_send_lua_sends_the_mix_without_repeating_a_new_recipient_and_reports_it():
    codes = ("212", "415", "617")
    Recorder.received, Recorder.known = [], {seed.known_recipient(codes, i) for i in range(20)}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    mix = wrk.Mix("/pools/my/p/sms", "np_key", 0.5, 20, 1000, codes)
    try:
        result = wrk.run(
            f"http://127.0.0.1:{httpd.server_port}", wrk.Load(1, connections=4, threads=2), mix
        )
    finally:
        httpd.shutdown()

    assert {(path, auth) for path, auth, _ in Recorder.received} == {
        ("/pools/my/p/sms", "Bearer np_key")
    }
    sent = [to for _, _, to in Recorder.received]
    new = [to for to in sent if to not in Recorder.known]
    assert len(new) == len(set(new)) and new and len(new) < len(sent)
    used = range(1000, 1000 + result.new_used * 2)
    assert set(new) <= {seed.new_recipient(codes, i) for i in used}
    assert 0 < result.non_2xx <= len(new) and result.first_error.startswith("404 ")
    assert 0 < result.requests <= len(sent) and result.rps > 0
    assert 0 < result.p50_ms <= result.p99_ms


def test_the_done_line_is_read_and_its_absence_is_an_error():
    line = (
        'BENCHMARK {"requests": 5000, "duration_us": 2000000, "non_2xx": 3, "socket_errors": 1,'
        ' "p50_us": 1500, "p99_us": 9000, "new_used": 250, "first_error": "500 oops"}'
    )
    result = wrk.parse(f"Running 2s test\n{line}\n")

    assert (result.rps, result.p50_ms, result.p99_ms) == (2500, 1.5, 9)
    assert (result.non_2xx, result.socket_errors, result.first_error) == (3, 1, "500 oops")
    with pytest.raises(CommandError, match="no BENCHMARK line"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused")


# The plan and the report


def test_the_default_plan_runs_every_scenario_of_spec_15():
    plan = Plan.of(
        modes=[EMBEDDED, BROKER],
        mixes=["new", "sticky", "mix"],
        sizes=[10_000, 10, 1_000],
        tables=[1_000_000, 10_000],
    )

    assert [(phase.mode, phase.known) for phase in plan.phases()] == [
        (BROKER, 10_000),
        (EMBEDDED, 10_000),
        (BROKER, 1_000_000),
    ]
    scenarios = [s for phase in plan.phases() for s in phase.scenarios]
    assert [(s.mode, s.mix, s.pool_size, s.known) for s in scenarios] == [
        (BROKER, "mix", 1_000, 10_000),
        (BROKER, "sticky", 1_000, 10_000),
        (BROKER, "new", 1_000, 10_000),
        (BROKER, "mix", 10, 10_000),
        (BROKER, "new", 10, 10_000),
        (BROKER, "mix", 10_000, 10_000),
        (BROKER, "new", 10_000, 10_000),
        (EMBEDDED, "mix", 1_000, 10_000),
        (EMBEDDED, "sticky", 1_000, 10_000),
        (EMBEDDED, "new", 1_000, 10_000),
        (BROKER, "mix", 1_000, 1_000_000),
    ]


def result(rps: float, p99_ms: float = 10) -> wrk.Result:
    return wrk.Result(
        requests=round(rps * 10), seconds=10, non_2xx=0, socket_errors=0,
        p50_ms=p99_ms / 2, p99_ms=p99_ms, new_used=0,
    )  # fmt: skip


def run(mode, mix, size, known, send_rps, send_p99=10, bare_rps=1000) -> Run:
    return Run(Scenario(mode, mix, size, known), result(bare_rps), result(send_rps, send_p99), 0)


def test_the_report_sets_each_send_against_its_bare_run_and_checks_the_targets():
    plan = Plan.of(
        modes=[BROKER, EMBEDDED],
        mixes=["mix", "new"],
        sizes=[10, 1000, 10000],
        tables=[100, 5000],
    )
    runs = [
        run(BROKER, "mix", 1000, 100, send_rps=600, send_p99=50, bare_rps=2000),  # 30%, p99 5x
        run(BROKER, "new", 1000, 100, send_rps=400, bare_rps=2000),  # 20%: 67% of the mix
        run(BROKER, "new", 10, 100, send_rps=250),
        run(BROKER, "new", 10000, 100, send_rps=200),  # 1.25x slower
        run(EMBEDDED, "mix", 1000, 100, send_rps=90),  # 9%
        run(BROKER, "mix", 1000, 5000, send_rps=200),  # 20% against 30%: 1.5x slower
    ]
    sticky, new = [f"SELECT {i}" for i in range(8)], [f"SELECT {i}" for i in range(12)]
    measured = [statements(sticky, new)]

    lines = [target.line() for target in targets(plan, runs, measured)]

    assert [line.split()[0] for line in lines] == [
        "PASS", "FAIL", "PASS", "FAIL", "PASS", "FAIL", "PASS", "FAIL",
    ]  # fmt: skip
    assert lines[0].endswith("30.0%") and lines[1].endswith("67%")
    assert lines[2].endswith("5.0x") and lines[3].endswith("9.0%")
    assert lines[4].endswith("1.25x slower") and lines[5].endswith("1.50x slower")
    assert lines[6].endswith(" 8") and lines[7].endswith(" 12")
    assert "send/bare  30.0%" in send_line(runs[0]) and "p99   5.0x" in send_line(runs[0])


def test_the_targets_take_the_median_of_a_scenarios_rounds():
    plan = Plan.of(modes=[BROKER], mixes=["mix"], sizes=[1000], tables=[100])
    runs = [
        run(BROKER, "mix", 1000, 100, send_rps=rps, send_p99=p99)
        for rps, p99 in ((100, 90), (300, 50), (200, 70))
    ]

    lines = [target.line() for target in targets(plan, runs, [])]

    # Neither the first round (10%, p99 9x) nor the best (30%, 5x): their median.
    assert lines[0].endswith("20.0%") and lines[2].endswith("7.0x")


def statements(sticky, new):
    return PoolStatements(SendStatements(sticky, []), SendStatements(new, []))


def test_targets_whose_runs_were_left_out_are_reported_as_not_run():
    plan = Plan.of(modes=[EMBEDDED], mixes=["sticky"], sizes=[10], tables=[100])

    lines = [target.line() for target in targets(plan, [], [])]

    assert all(line.startswith("----") and line.endswith("not run") for line in lines)


# The command and its servers


def test_the_command_refuses_sqlite(db):
    if connection.vendor != "sqlite":
        pytest.skip("on PostgreSQL the command would run the whole benchmark")
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("benchmark")


@pytest.mark.parametrize("rounds", ["0", "two"])
def test_rounds_are_a_whole_number_of_at_least_one(rounds):
    with pytest.raises(CommandError, match="--rounds"):
        call_command("benchmark", f"--rounds={rounds}")


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install -y wrk)")
def test_a_one_second_benchmark_runs_end_to_end_and_deletes_what_it_seeded(transactional_db):
    out = StringIO()

    call_command(
        "benchmark",
        "--modes=embedded", "--scenarios=mix", "--pool-sizes=2", "--mappings=5",
        "--duration=1", "--warmup=0", "--rounds=2",
        stdout=out,
    )  # fmt: skip

    lines = out.getvalue().splitlines()
    bares = [line for line in lines if line.strip().startswith("bare")]
    sends = [line for line in lines if line.strip().startswith("send 90/10 mix")]
    assert len(bares) == len(sends) == 2  # the rounds, bare and send by turns
    assert all("non-2xx 0" in line for line in bares + sends)
    assert all("send/bare" in line for line in sends)
    assert any("the median of 2 rounds" in line for line in lines)
    assert any(line.startswith(("PASS", "FAIL")) and "embedded" in line for line in lines)
    assert lines[-1].startswith("Ran in")
    assert not Account.objects.filter(name=seed.ACCOUNT_NAME).exists()


def test_the_servers_get_the_database_of_this_process_and_production_settings():
    settings_dict = {"USER": "bench", "PASSWORD": "p@ss/word", "HOST": "db", "PORT": 5433}
    url = server.database_url({**settings_dict, "NAME": "test_numberpools"})
    parsed = dj_database_url.parse(url)
    assert (parsed["NAME"], parsed["USER"], parsed["PASSWORD"]) == (
        "test_numberpools",
        "bench",
        "p@ss/word",
    )
    assert (parsed["HOST"], parsed["PORT"]) == ("db", 5433)

    embedded = server.server_env(database=url, broker_url="")
    broker = server.server_env(database=url, broker_url="redis://127.0.0.1:6379/13")
    assert embedded["DEBUG"] == "false" and embedded["API_RATE_LIMIT"] == "off"
    assert embedded["BENCHMARK_BARE_ENDPOINT"] == "true" and embedded["DATABASE_URL"] == url
    assert "CELERY_BROKER_URL" not in embedded and "CACHE_URL" not in broker
    assert broker["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/13"


def test_the_bare_endpoint_answers_without_key_or_database_and_is_off_by_default(db):
    response = BareApi.as_view()(APIRequestFactory().post("/benchmark/bare", {}, format="json"))

    assert (response.status_code, response.data) == (200, {"ok": True})
    assert APIClient().post("/benchmark/bare", {}, format="json").status_code == 404
