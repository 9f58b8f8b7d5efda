"""The shelters tests make several staff accounts per test (role matrices); their passwords are never used (the
tests log in with `logged_in_client`), so a fast hasher is enough. Creates no data."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
