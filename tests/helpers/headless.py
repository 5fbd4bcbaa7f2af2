"""The HTML page tests' browser: Playwright driving the system chromium (Debian's, installed by
scripts/install.sh), so no browser is downloaded. ``browser_page()`` yields a page whose console
errors are collected in ``page.errors``; ``available()`` says why a test must skip."""

from __future__ import annotations

import contextlib
import shutil


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def available() -> str | None:
    """None when the browser tests can run, else the reason they skip."""
    if chromium() is None:
        return "chromium not installed (scripts/install.sh installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed (requirements.txt pins it; scripts/install.sh installs it)"
    return None


@contextlib.contextmanager
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page()
            page.errors = []
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            yield page
        finally:
            browser.close()
