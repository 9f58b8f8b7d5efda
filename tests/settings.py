"""Test settings: the project's settings plus a test-only app with one model per encrypted field type."""

from opennrm.settings import *  # noqa: F403
from opennrm.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher"]

# The test client and the live server speak plain HTTP; `test_security_headers.py` checks the HTTPS settings.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
