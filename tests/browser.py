"""A real Chromium for the admin's browser tests (Playwright driving Debian's chromium).

The tests that take `operator` or `page` see the admin as an operator does: served by
pytest-django's live server, at 1366x768, logged in through the login form. Without a
Chromium (`CHROMIUM`, or `chromium` on the PATH) they are skipped, saying so; CI
installs one (`.ci/run`).
"""

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.factories import UserFactory

VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "a long operator password"


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


# Per module: Playwright's sync API runs an event loop in this thread while it is
# started, and tests of other modules (the SMSC's) start loops of their own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium: install Debian's chromium, or set CHROMIUM to its path")
    # Playwright's sync API keeps an event loop in this thread; the tests' own database
    # work is synchronous all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page, user) -> Page:
    page.goto("/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


@pytest.fixture
def operator(page, account) -> Page:
    """The page, logged in as a superuser of the console: an operator who sees every pool."""
    user = UserFactory(is_superuser=True, account=None)
    user.set_password(PASSWORD)
    user.save()
    return log_in(page, user)
