"""Two-factor login: password, TOTP enrolment by QR code, verification, throttling, session end."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

import opennrm.settings as production_settings
from opennrm.accounts import services, totp
from opennrm.accounts.models import LoginFailure, TOTPDevice, User
from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # the factories' password
LOGIN = "/accounts/login/"
ENROL = "/accounts/2fa/enrol/"
VERIFY = "/accounts/2fa/verify/"
WRONG_PASSWORD_MESSAGE = "The user name or password is not correct."
WRONG_CODE_MESSAGE = "This code is not valid."
THROTTLE_MESSAGE = "Too many failed attempts."


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def is_logged_in(client: Client) -> bool:
    """What the user sees: the home page answers instead of sending them to the login page."""
    response = client.get("/")
    return response.status_code == 200 and not is_login_redirect(response)


def enrolled_secret(client: Client) -> str:
    """The secret shown on the enrolment page (as a user would type it into an authenticator app)."""
    page = client.get(ENROL).content.decode()
    found = re.search(r'<code id="totp-secret"[^>]*>([A-Z2-7]+)</code>', page)
    assert found, "the enrolment page shows the secret in #totp-secret"
    return found.group(1)


def a_wrong_code(secret: str) -> str:
    """A six-digit code that is not valid for this secret in any step the server accepts now."""
    now = time.time()
    valid = {totp.code_for(secret, now=now + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(c for c in ("123456", "654321", "111111", "909090") if c not in valid)


def log_in_fully(client: Client, user: User) -> str:
    """Password, enrolment and first code; returns the TOTP secret for later logins."""
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == ENROL
    secret = enrolled_secret(client)
    response = client.post(ENROL, {"code": totp.code_for(secret)})
    assert response.status_code == 302 and response["Location"] == "/"
    return secret


# --- The happy path ------------------------------------------------------------------------------------


def test_first_login_enrols_by_qr_code_then_logs_in():
    user = member(Role.CASE_WORKER)
    client = Client()

    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == ENROL

    page = client.get(ENROL).content.decode()
    assert "<svg" in page
    secret = enrolled_secret(client)
    assert len(secret) >= 16
    # The QR code encodes the same secret (an otpauth:// URI the authenticator app reads).
    uri = totp.provisioning_uri(secret=secret, account=user.username)
    assert pyotp.parse_uri(uri).secret == secret
    assert not is_logged_in(client)

    response = client.post(ENROL, {"code": totp.code_for(secret)})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Case worker" in home.content.decode()
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed_at is not None
    # The secret is encrypted at rest: the raw column never holds it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    assert secret not in str(stored)


def test_enrolled_user_is_asked_for_a_code_not_a_new_qr_code():
    user = member(Role.CASE_WORKER)
    secret = log_in_fully(Client(), user)

    client = Client()
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response["Location"] == VERIFY
    # The enrolment page does not show the secret again to someone who only knows the password.
    response = client.get(ENROL)
    assert response.status_code == 302
    assert secret not in client.get(VERIFY).content.decode()
    response = client.post(VERIFY, {"code": totp.code_for(secret, now=time.time() + 30)})
    assert response.status_code == 302
    assert is_logged_in(client)


def test_login_returns_to_the_page_asked_for_but_never_to_another_site():
    user = member(Role.CASE_WORKER)
    client = Client()
    response = client.get("/accounts/profile/")
    assert response["Location"] == "/accounts/login/?next=/accounts/profile/"
    client.post(LOGIN + "?next=/accounts/profile/", {"username": user.username, "password": PASSWORD})
    secret = enrolled_secret(client)
    response = client.post(ENROL, {"code": totp.code_for(secret)})
    assert response["Location"] == "/accounts/profile/"

    other = Client()
    other.post(LOGIN, {"username": user.username, "password": PASSWORD, "next": "https://evil.example/"})
    response = other.post(VERIFY, {"code": totp.code_for(secret, now=time.time() + 30)})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_is_audited():
    user = member(Role.CASE_WORKER)
    log_in_fully(Client(), user)
    entry = AuditEntry.objects.get(action="user.login")
    assert entry.actor == user.public_id
    assert entry.target_id == user.public_id
    assert AuditEntry.objects.filter(action="user.two_factor_enrolled", actor=user.public_id).exists()


# --- Refusals ------------------------------------------------------------------------------------------


def test_wrong_password_shows_an_error_and_does_not_log_in():
    user = member(Role.CASE_WORKER)
    client = Client()
    response = client.post(LOGIN, {"username": user.username, "password": "not the password"})
    assert response.status_code == 200
    assert WRONG_PASSWORD_MESSAGE in response.content.decode()
    assert client.get(ENROL).status_code == 302  # no pending second step either
    assert not is_logged_in(client)
    assert AuditEntry.objects.filter(action="user.login_failed.password").exists()


def test_unknown_user_gets_the_same_error_as_a_wrong_password():
    client = Client()
    response = client.post(LOGIN, {"username": "nobody.here", "password": "whatever it is"})
    assert response.status_code == 200
    assert WRONG_PASSWORD_MESSAGE in response.content.decode()


def test_wrong_code_shows_an_error_and_does_not_log_in():
    user = member(Role.CASE_WORKER)
    secret = log_in_fully(Client(), user)
    client = Client()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    response = client.post(VERIFY, {"code": a_wrong_code(secret)})
    assert response.status_code == 200
    assert WRONG_CODE_MESSAGE in response.content.decode()
    assert not is_logged_in(client)


def test_wrong_code_at_enrolment_shows_an_error_and_does_not_log_in():
    user = member(Role.CASE_WORKER)
    client = Client()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    secret = enrolled_secret(client)
    response = client.post(ENROL, {"code": a_wrong_code(secret)})
    assert response.status_code == 200
    assert WRONG_CODE_MESSAGE in response.content.decode()
    assert not is_logged_in(client)
    assert TOTPDevice.objects.get(user=user).confirmed_at is None


def test_a_code_sent_before_the_qr_code_was_shown_is_refused_and_the_qr_code_shown():
    user = member(Role.CASE_WORKER)
    client = Client()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    response = client.post(ENROL, {"code": "123456"})
    assert response.status_code == 200
    page = response.content.decode()
    assert WRONG_CODE_MESSAGE in page
    assert "<svg" in page and 'id="totp-secret"' in page
    assert not is_logged_in(client)


def test_a_code_cannot_be_used_twice():
    user = member(Role.CASE_WORKER)
    client = Client()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    secret = enrolled_secret(client)
    code = totp.code_for(secret)
    assert client.post(ENROL, {"code": code}).status_code == 302

    replay = Client()
    replay.post(LOGIN, {"username": user.username, "password": PASSWORD})
    response = replay.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert WRONG_CODE_MESSAGE in response.content.decode()
    assert not is_logged_in(replay)

    # The next code still works.
    response = replay.post(VERIFY, {"code": totp.code_for(secret, now=time.time() + 30)})
    assert response.status_code == 302
    assert is_logged_in(replay)


def test_repeated_wrong_passwords_block_even_the_right_password(settings):
    settings.OPENNRM_LOGIN_MAX_FAILURES = 3
    user = member(Role.CASE_WORKER)
    client = Client()
    for _ in range(3):
        response = client.post(LOGIN, {"username": user.username, "password": "guess"})
        assert WRONG_PASSWORD_MESSAGE in response.content.decode()

    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert THROTTLE_MESSAGE in response.content.decode()
    assert client.get(ENROL).status_code == 302
    assert not is_logged_in(client)
    # The throttle does not keep the user name in clear.
    assert not LoginFailure.objects.filter(username_digest__icontains=user.username).exists()


def test_throttle_counts_per_account_whatever_the_case_of_the_name(settings):
    settings.OPENNRM_LOGIN_MAX_FAILURES = 3
    user = member(Role.CASE_WORKER)
    for variant in (user.username.upper(), user.username.capitalize(), f" {user.username} "):
        Client().post(LOGIN, {"username": variant, "password": "guess"})
    response = Client().post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert THROTTLE_MESSAGE in response.content.decode()


def test_repeated_wrong_codes_block_even_the_right_code(settings):
    settings.OPENNRM_LOGIN_MAX_FAILURES = 3
    user = member(Role.CASE_WORKER)
    secret = log_in_fully(Client(), user)
    client = Client()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    for _ in range(3):
        client.post(VERIFY, {"code": a_wrong_code(secret)})
    response = client.post(VERIFY, {"code": totp.code_for(secret, now=time.time() + 30)})
    assert response.status_code == 200
    assert THROTTLE_MESSAGE in response.content.decode()
    assert not is_logged_in(client)


def test_the_throttle_ends_after_its_window(settings):
    settings.OPENNRM_LOGIN_MAX_FAILURES = 3
    user = member(Role.CASE_WORKER)
    for _ in range(3):
        Client().post(LOGIN, {"username": user.username, "password": "guess"})
    LoginFailure.objects.update(at=timezone.now() - settings.OPENNRM_LOGIN_WINDOW - timedelta(seconds=1))
    response = Client().post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def test_a_successful_login_clears_earlier_failures(settings):
    settings.OPENNRM_LOGIN_MAX_FAILURES = 3
    user = member(Role.CASE_WORKER)
    for _ in range(2):
        Client().post(LOGIN, {"username": user.username, "password": "guess"})
    log_in_fully(Client(), user)
    for _ in range(2):
        Client().post(LOGIN, {"username": user.username, "password": "guess"})
    response = Client().post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def test_inactive_user_cannot_log_in():
    user = member(Role.CASE_WORKER)
    user.is_active = False
    user.save()
    client = Client()
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert WRONG_PASSWORD_MESSAGE in response.content.decode()


# --- Nothing is reachable half-way or without logging in -----------------------------------------------

PAGES = [
    "/",
    "/audit/",
    "/accounts/profile/",
    "/accounts/agencies/",
    "/accounts/agencies/aaaaaaaaaaaaaaaaaaaaaaaa/",
    "/admin/",
    "/admin/accounts/user/",
    "/admin/accounts/agency/add/",
    "/no-such-page/",
]


@pytest.mark.parametrize("path", PAGES)
def test_a_password_only_session_reaches_no_page(path):
    user = member(Role.ADMINISTRATOR)
    log_in_fully(Client(), user)  # enrolled, so the next login stops at the code
    client = Client()
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response["Location"] == VERIFY
    response = client.get(path)
    assert is_login_redirect(response)


def test_a_password_only_session_gets_no_api_answer():
    user = member(Role.CASE_WORKER)
    client = Client()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    response = client.get("/api/v1/me/")
    assert response.status_code in {401, 403}
    assert user.username not in response.content.decode()


def test_a_pending_login_expires():
    user = member(Role.CASE_WORKER)
    secret = log_in_fully(Client(), user)
    client = Client()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    session = client.session
    session["pending_2fa"]["at"] = time.time() - 301
    session.save()
    response = client.post(VERIFY, {"code": totp.code_for(secret, now=time.time() + 30)})
    assert is_login_redirect(response)
    assert not is_logged_in(client)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_an_anonymous_visitor_to_the_login_page(path):
    response = Client().get(path)
    assert is_login_redirect(response)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/logout/everywhere/",
        "/accounts/profile/",
        "/accounts/profile/tokens/aaaaaaaaaaaaaaaaaaaaaaaa/revoke/",
        "/audit/",
    ],
)
def test_every_form_sends_an_anonymous_visitor_to_the_login_page(path):
    client = Client(enforce_csrf_checks=False)
    response = client.post(path, {})
    assert is_login_redirect(response)


def test_the_login_page_itself_is_public():
    response = Client().get(LOGIN)
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


# --- Passwords -----------------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2():
    assert production_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    user = services.create_user(actor=None, username="tamar.test", password="a long enough passphrase")
    user.refresh_from_db()
    assert user.password.startswith("argon2")
    assert "a long enough passphrase" not in user.password
    assert user.check_password("a long enough passphrase")


# --- Sessions end --------------------------------------------------------------------------------------


def test_an_idle_session_is_logged_out(settings):
    settings.OPENNRM_IDLE_TIMEOUT = timedelta(minutes=5)
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user)
    session = client.session
    session["last_seen"] = int(time.time()) - 4 * 60
    session.save()
    assert is_logged_in(client)  # 4 minutes idle: still in, and the clock restarts

    session = client.session
    session["last_seen"] = int(time.time()) - 6 * 60
    session.save()
    response = client.get("/accounts/profile/")
    assert is_login_redirect(response)
    assert "expired=1" in response["Location"]
    assert not is_logged_in(client)
    follow = client.get(response["Location"])
    assert "Your session ended" in follow.content.decode()


def test_an_active_session_ends_after_the_session_lifetime(settings, monkeypatch):
    """OPENNRM_SESSION_MINUTES: a session ends that long after login, even if it was used all along."""
    settings.OPENNRM_IDLE_TIMEOUT = timedelta(minutes=30)
    lifetime = settings.SESSION_COOKIE_AGE
    user = member(Role.CASE_WORKER)
    client = Client()
    log_in_fully(client, user)
    start = time.time()
    # Use the session every 20 minutes (never idle) until past its lifetime.
    for elapsed in range(20 * 60, lifetime + 20 * 60 + 1, 20 * 60):
        later = start + elapsed
        monkeypatch.setattr(time, "time", lambda later=later: later)
        monkeypatch.setattr(timezone, "now", lambda later=later: datetime.fromtimestamp(later, tz=UTC))
        response = client.get("/")
    assert is_login_redirect(response)


def test_log_out_everywhere_ends_the_sessions_on_other_devices():
    user = member(Role.CASE_WORKER)
    laptop = logged_in_client(user)
    phone = logged_in_client(user)
    assert is_logged_in(laptop) and is_logged_in(phone)

    response = laptop.post("/accounts/logout/everywhere/")
    assert is_login_redirect(response)
    assert not is_logged_in(laptop)
    response = phone.get("/accounts/profile/")
    assert is_login_redirect(response)
    assert not is_logged_in(phone)
    assert AuditEntry.objects.filter(action="user.logout_everywhere", actor=user.public_id).exists()


def test_log_out_everywhere_leaves_other_users_logged_in():
    user = member(Role.CASE_WORKER)
    colleague = member(Role.CASE_WORKER, agency=AgencyFactory())
    mine, theirs = logged_in_client(user), logged_in_client(colleague)
    mine.post("/accounts/logout/everywhere/")
    assert is_logged_in(theirs)


def test_logout_requires_post():
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user)
    response = client.get("/accounts/logout/")
    assert response.status_code == 405
    assert is_logged_in(client)
    response = client.get("/accounts/logout/everywhere/")
    assert response.status_code == 405
    assert is_logged_in(client)


def test_logout_ends_the_session_and_is_audited():
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user)
    response = client.post("/accounts/logout/")
    assert is_login_redirect(response)
    assert "You are logged out." in client.get(LOGIN).content.decode()
    assert not is_logged_in(client)
    assert AuditEntry.objects.filter(action="user.logout", actor=user.public_id).exists()


def test_logout_is_protected_against_cross_site_requests():
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user, Client(enforce_csrf_checks=True))
    response = client.post("/accounts/logout/everywhere/")
    assert response.status_code == 403
    assert is_logged_in(client)


def test_preferred_language_applies_after_login():
    user = member(Role.CASE_WORKER)
    user.preferred_language = "ka"
    user.save()
    client = Client()
    log_in_fully(client, user)
    page = client.get("/").content.decode()
    assert '<html lang="ka">' in page
