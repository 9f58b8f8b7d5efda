"""Shared fixtures. No fixture creates data on its own: tests ask for what they need."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("OPENNRM_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/system_deps.sh (apt package 'chromium')")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = (
        "true"  # Playwright's sync API runs an event loop in this thread
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def _empty_audit_log_after_transactional_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The audit log refuses DELETE (triggers). Django empties every table after a transactional test (browser
    tests, live server): this fixture empties the audit table first, with its triggers off. It creates nothing."""
    marker = request.node.get_closest_marker("django_db")
    if not (
        (marker and marker.kwargs.get("transaction", False))
        or {"transactional_db", "live_server"} & set(request.fixturenames)
    ):
        yield
        return
    request.getfixturevalue("transactional_db")  # our teardown then runs before Django's flush
    yield
    from django.db import connection

    triggers = importlib.import_module("opennrm.core.migrations.0002_audit_append_only_triggers")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            statements = [
                f"ALTER TABLE {triggers.TABLE} DISABLE TRIGGER USER",
                f"DELETE FROM {triggers.TABLE}",  # noqa: S608 - a constant table name
                f"ALTER TABLE {triggers.TABLE} ENABLE TRIGGER USER",
            ]
        else:
            statements = [*triggers.SQLITE_REMOVE, f"DELETE FROM {triggers.TABLE}", *triggers.SQLITE_INSTALL]  # noqa: S608
        for sql in statements:
            cursor.execute(sql)


@pytest.fixture(autouse=True)
def _default_language_after_each_test() -> Iterator[None]:
    """A test that logs in a user with a preferred language leaves that language active in the worker's thread;
    the next test in the same worker would then render translated text. Each test ends in the default language."""
    yield
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
