"""Playwright (sync API) driving Debian's Chromium against pytest-django's live_server."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run
# inside one unless told it is safe (the test thread is the only one touching these objects).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("RANKWISE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from django.urls import get_resolver
    from playwright.sync_api import sync_playwright

    # Import every view module now (scipy & co. behind some of them take seconds on a busy
    # machine), so the first page load does not eat a navigation timeout.
    assert get_resolver().url_patterns

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; any console error, uncaught exception or JS dialog fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def on_dialog(dialog):
        problems.append(f"unexpected {dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.problems = problems
    yield page
    context.close()
    assert problems == [], problems


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name, *, whole=False):
        """Save a screenshot; ``whole`` grows the window to the page's height first, so the
        page's fixed ranking bar is drawn at the bottom rather than across the middle."""
        path = SCREENSHOTS / f"{name}.png"
        size = page.viewport_size
        if whole:
            height = page.evaluate("() => document.documentElement.scrollHeight")
            page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        page.screenshot(path=str(path))
        page.set_viewport_size(size)
        return path

    return take


@pytest.fixture
def demo(transactional_db):
    from annotate.services.demo import demo_load

    return demo_load()


@pytest.fixture
def login(live_server):
    from annotate.services.demo import DEMO_PASSWORD

    def log_in(page, username):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return log_in
