"""The console in a real browser (Chromium, 1366x768): the flows operators live in."""

import os

import pytest
from playwright.sync_api import expect

from messaging.services.inbound import inbound_receive
from messaging.services.sending import message_send
from optout.services import optout_record
from tests.factories import ConnectionFactory
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_logs_in_to_the_console(operator):
    assert operator.title().endswith("| Number Pools")
    assert operator.locator("#site-name").inner_text() == "Number Pools"


def screenshot(page, name: str) -> None:
    """Saved only when SCREENSHOTS names a directory: to look at the page, not to test it."""
    directory = os.environ.get("SCREENSHOTS")
    if directory:
        os.makedirs(directory, exist_ok=True)
        page.screenshot(path=os.path.join(directory, name))


def test_an_operator_follows_a_message_from_the_dashboard_to_its_explanation(operator, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], name="alerts")
    message = message_send(pool=pool, to="+14155550123", body="Your code is 1234")
    # Another figure on the dashboard: a recipient who opted out gets an Undelivered.
    optout_record(account=account, recipient="+12125550100")
    message_send(pool=pool, to="+12125550100", body="Your code is 5678")
    message.refresh_from_db()  # the simulator took it: Sent, or already Delivered
    assert message.status in {"Sent", "Delivered"}

    operator.goto("/admin/")
    screenshot(operator, "dashboard.png")
    operator.locator(f'#account-{account.pk} [data-figure="{message.status}"] a').click()

    operator.wait_for_url("**/admin/messaging/message/?*")
    rows = operator.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("th a").click()

    operator.wait_for_url(f"**/admin/messaging/message/{message.pk}/change/**")
    # Its decision, line by line (what the pool would decide now may repeat a line).
    for line in message.explanation.splitlines():
        expect(operator.get_by_text(line, exact=True).first).to_be_visible()


@pytest.mark.parametrize(
    "changelist",
    [
        "/admin/numbers/number/",
        "/admin/messaging/notification/",
        "/admin/optout/optoutevent/",
        "/admin/optout/inboundmessage/",
        "/admin/optout/keyword/",
        "/admin/carriers/connection/",
    ],
)
def test_the_lists_operators_read_fit_the_screen(operator, account, changelist):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], name="Support", sticky=True)
    message_send(
        pool=pool,
        to="+14155550100",
        body="Your order shipped",
        callback={"url": "https://crm.example.com/hooks/sms-status", "strategy": "OnChange"},
    )
    optout_record(account=account, recipient="+14155550100", number=SAN_FRANCISCO)
    ConnectionFactory(account=account, name="Aggregator SMSC", kind="smpp", state_status="down")
    inbound_receive(
        message_id="carrier-1",
        sender="+14155550100",
        to=SAN_FRANCISCO,
        body="When does my order arrive? I ordered it last Tuesday and it has not come yet.",
    )

    operator.goto(changelist)

    results = "document.querySelector('.results')"
    assert operator.evaluate(f"{results}.scrollWidth <= {results}.clientWidth"), changelist
    screenshot(operator, changelist.strip("/").replace("/", "-") + ".png")
