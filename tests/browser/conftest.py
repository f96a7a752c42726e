"""Browser tests: Playwright (sync API) drives the system Chromium against live_server.

Playwright's sync API keeps an asyncio event loop running in the test thread, and Django then
refuses ORM calls from that thread (SynchronousOnlyOperation). DJANGO_ALLOW_ASYNC_UNSAFE is set
only while the browser is up (module scope), never for the whole session: set at import time
it would leak into every other test and into their subprocesses (e.g. `manage.py check
--deploy` in tests/test_project.py fails with async.E001).
"""

import os

import pytest
from django.core.management import call_command

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture
def roles(transactional_db):
    """Overrides tests/conftest.py's `roles`: live_server needs a transactional database, whose
    flush after each test drops the role groups, so they are recreated per test, after the
    transactional database is set up."""
    call_command("setup_roles", verbosity=0, stdout=open(os.devnull, "w"))


@pytest.fixture(scope="module")
def chromium():
    """The system Chromium, launched once per module. Missing: skip, except in CI (fail)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        message = f"the browser journey needs the system Chromium at {CHROMIUM}, not found"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{message} (CI=true: the journey must never be skipped in CI)",
                        pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as env:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser context (no cookies) per test, in English, with ~15 s timeouts."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)  # expect()'s own default is 5 s
    context = chromium.new_context(locale="en-US", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
