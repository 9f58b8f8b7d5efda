"""The catalogue is loaded by a data migration, but a transactional test elsewhere (browser journeys) empties
every table when it ends; tests here that need the shipped catalogue restore it first (what the migration
loads, nothing more)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _shipped_catalogue(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("django_db") or "db" in request.fixturenames:
        request.getfixturevalue("db")
        from opennrm.referrals.tests.factories import ensure_catalogue

        ensure_catalogue()
