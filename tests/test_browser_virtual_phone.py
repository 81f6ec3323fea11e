"""The virtual phone in a real browser (Chromium, 1366x768): a send through a pool arrives
on the simulated recipient's phone, their STOP is confirmed, and the next send is refused."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from pools.models import DEFAULT_OPT_OUT_REPLY
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENT = "+14155550123"


def screenshot(page, name: str) -> None:
    """Kept for a person to look at when SCREENSHOTS names a directory."""
    if directory := os.environ.get("SCREENSHOTS"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{directory}/{name}.png", full_page=True)


def reloaded_until(page: Page, bubble: Locator, text: str, tries: int = 20) -> None:
    """The live server dispatches after the commit, in its own thread: a status that lags
    behind the redirect shows on a reload."""
    for _ in range(tries):
        if text in bubble.inner_text():
            return
        page.wait_for_timeout(250)
        page.reload()
    expect(bubble).to_contain_text(text)


@pytest.fixture
def pools(account):
    return [
        pool_with(account, [NEW_YORK], name="Support"),
        pool_with(account, [SAN_FRANCISCO], name="Alerts"),
    ]


def test_a_recipient_gets_a_message_says_stop_and_the_next_one_is_refused(operator, pools):
    operator.goto("/admin/messaging/message/")
    operator.get_by_role("link", name="Virtual phone").click()
    operator.fill("#id_recipient", RECIPIENT)
    operator.get_by_role("button", name="Open").click()
    expect(operator.locator("#thread-heading")).to_contain_text(f"Phone of {RECIPIENT}")

    operator.select_option("#phone-send select[name=pool]", label="Support")
    operator.fill("#phone-send textarea", "Your table for two is ready.")
    operator.get_by_role("button", name=f"Send to {RECIPIENT}").click()
    arrived = operator.locator(".bubble.sent", has_text="Your table for two is ready.")
    expect(arrived).to_contain_text(f"From {NEW_YORK} · Support")
    reloaded_until(operator, arrived, "Delivered")

    operator.select_option("#phone-reply select[name=number]", label=NEW_YORK)
    operator.fill("#phone-reply textarea", "STOP")
    operator.get_by_role("button", name="Write back").click()
    expect(operator.locator(".bubble.written", has_text="STOP")).to_contain_text("Opt-out")
    confirmation = operator.locator(".bubble.sent", has_text=DEFAULT_OPT_OUT_REPLY)
    expect(confirmation).to_contain_text("Why this sender: an auto-reply")
    reloaded_until(operator, confirmation, "Delivered")

    operator.fill("#phone-send textarea", "Dessert is on us tonight.")
    operator.get_by_role("button", name=f"Send to {RECIPIENT}").click()
    refused = operator.locator(".bubble.sent", has_text="Dessert is on us tonight.")
    expect(refused).to_contain_text("Undelivered / Opted-out")
    expect(operator.locator(".messagelist")).to_contain_text(f"{RECIPIENT} opted out")

    bubbles = operator.locator(".thread .bubble .text").all_inner_texts()
    assert bubbles == [
        "Your table for two is ready.",
        "STOP",
        DEFAULT_OPT_OUT_REPLY,
        "Dessert is on us tonight.",
    ]
    # Nothing wider than the screen: the thread and the forms side by side fit 1366 px.
    assert operator.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    arrived.locator("summary").click()  # the pool's decision, opened for the screenshot
    screenshot(operator, "virtual-phone")
    operator.emulate_media(color_scheme="dark")  # the admin's colours, so dark works too
    screenshot(operator, "virtual-phone-dark")
