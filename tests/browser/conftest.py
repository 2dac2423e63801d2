"""Helpers of the ranking-page browser tests; the shared Chromium `browser` and `page`
fixtures live in tests/conftest.py so every browser test in the suite uses one Playwright
session (two sync sessions in one process cannot run side by side)."""

from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


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
