"""Messages in the console, in a real browser (Chromium, 1366x768): the list fits the
screen, and a message's page explains why its sender and what became of it."""

import os
from pathlib import Path

import pytest

from messaging.services.sending import message_send
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with

pytestmark = pytest.mark.django_db(transaction=True)


def screenshot(page, name: str) -> None:
    """Kept for a person to look at when SCREENSHOTS names a directory."""
    if directory := os.environ.get("SCREENSHOTS"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{directory}/{name}.png", full_page=True)


@pytest.fixture
def sent(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], name="Support", sticky=True, geomatch=True)
    messages = [
        message_send(
            pool=pool,
            to=f"+1415555{i:04d}",
            body=f"Order #{1000 + i} shipped \u2013 track it at https://example.com/track/{i}",
            callback={"url": "https://crm.example.com/sms-status", "strategy": "OnChange"},
        )
        for i in range(12)
    ]
    return messages


def test_the_message_list_shows_every_column_without_scrolling(operator, sent):
    operator.goto("/admin/messaging/message/")

    table = operator.locator("#result_list")
    assert table.locator("tbody tr").count() == 12
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert headers[1:8] == ["TRACKING ID", "TO", "FROM", "POOL", "STATUS", "BODY", "CREATED"]
    # Nothing clipped: the table fits its place beside the filters, with no scrolling.
    results = "document.querySelector('.results')"
    assert operator.evaluate(f"{results}.scrollWidth <= {results}.clientWidth")
    # Each row one line high: the body excerpt does not wrap.
    row = operator.locator("#result_list tbody tr").first
    assert row.bounding_box()["height"] < 40
    screenshot(operator, "messages-list")


def test_a_message_page_explains_its_sender_and_its_callbacks(operator, sent):
    message = sent[0]
    operator.goto("/admin/messaging/message/")
    operator.locator(f'#result_list a:has-text("{str(message.pk)[:8]}")').click()

    explanation = operator.locator(".field-selection_explanation")
    assert "area code 415" in explanation.inner_text()
    assert "characters in UCS-2" in operator.locator(".field-body_analysis_text").inner_text()
    assert SAN_FRANCISCO in operator.locator(".field-decision_now").inner_text()
    carried = operator.locator("#notifications-group .carries").all_inner_texts()
    assert carried == ["Queued", "Sent", "Delivered"]  # one callback per status, in order
    screenshot(operator, "message-page")
