"""Security headers, no third-party assets, production HTTPS settings, logs without identifying data."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.test import Client

from opennrm.accounts import totp
from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import AgencyFactory, UserFactory, logged_in_client, member
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[4]
STATIC = REPO / "src" / "opennrm" / "static" / "opennrm"
NONCE = re.compile(r"^'nonce-[A-Za-z0-9+/=_-]+'$")


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def pages(client_kind: str) -> list[tuple[Client, str]]:
    """A client and the pages it can open, for each kind of visitor."""
    if client_kind == "anonymous":
        return [(Client(), "/accounts/login/"), (Client(), "/healthz")]
    user = member(Role.ADMINISTRATOR if client_kind == "administrator" else Role.AUDITOR)
    client = logged_in_client(user)
    paths = ["/", "/accounts/profile/", "/accounts/agencies/", "/api/v1/me/", "/api/docs/", "/no-such-page/"]
    paths += ["/admin/"] if client_kind == "administrator" else ["/audit/"]
    return [(client, path) for path in paths]


VISITORS = ["anonymous", "auditor", "administrator"]


# --- Headers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_response_carries_the_security_headers(visitor):
    for client, path in pages(visitor):
        response = client.get(path)
        assert response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin"}, path
        assert "Content-Security-Policy" in response, path


@pytest.mark.parametrize("visitor", VISITORS)
def test_the_content_security_policy_allows_only_this_origin_and_nonced_scripts(visitor):
    for client, path in pages(visitor):
        response = client.get(path)
        csp = csp_directives(response)
        assert csp["default-src"] == ["'self'"], path
        assert csp["frame-ancestors"] == ["'none'"], path
        assert csp["object-src"] == ["'none'"], path
        script_src = csp.get("script-src", csp["default-src"])
        for source in script_src:
            assert source == "'self'" or NONCE.match(source), f"{path}: script-src allows {source}"
        for directive, sources in csp.items():
            assert "'unsafe-inline'" not in sources or directive.startswith("style"), (path, directive)
            assert "'unsafe-eval'" not in sources, (path, directive)
            assert "*" not in sources and "http:" not in sources and "https:" not in sources, (
                path,
                directive,
            )


@pytest.mark.parametrize("visitor", VISITORS)
def test_no_page_has_a_script_the_policy_would_block(visitor):
    """Inline scripts must carry the response's nonce; inline event handlers would never run."""
    for client, path in pages(visitor):
        response = client.get(path)
        if not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        script_src = csp_directives(response).get("script-src", [])
        nonces = {s[len("'nonce-") : -1] for s in script_src if NONCE.match(s)}
        for attributes in re.findall(r"<script\b([^>]*)>", html):
            if "src=" in attributes:
                continue
            found = re.search(r'nonce="([^"]+)"', attributes)
            assert found and found.group(1) in nonces, (
                f"{path}: inline <script{attributes}> without the nonce"
            )
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), f"{path}: inline event handler"
        assert "javascript:" not in html, path


def test_cookies_are_http_only_and_same_site():
    user = member(Role.CASE_WORKER)
    client = Client()
    client.get("/accounts/login/")
    client.post("/accounts/login/", {"username": user.username, "password": "correct horse battery staple"})
    session = client.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    csrf = client.cookies[django_settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"]


# --- Nothing from other hosts -----------------------------------------------------------------------------


def external_urls(html: str) -> list[str]:
    urls = re.findall(r'(?:src|href|action|srcset|poster|data)\s*=\s*["\']([^"\']+)', html, flags=re.I)
    urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    return [u for u in urls if urlparse(u).netloc and urlparse(u).hostname not in {"testserver"}]


@pytest.mark.parametrize("visitor", VISITORS)
def test_no_page_loads_or_links_anything_from_another_host(visitor):
    for client, path in pages(visitor):
        response = client.get(path)
        assert external_urls(response.content.decode()) == [], path


def test_the_enrolment_page_draws_the_qr_code_itself():
    user = member(Role.CASE_WORKER)
    client = Client()
    client.post("/accounts/login/", {"username": user.username, "password": "correct horse battery staple"})
    html = client.get("/accounts/2fa/enrol/").content.decode()
    assert "<svg" in html
    assert external_urls(html) == []
    assert "otpauth" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # not put in a link or image URL


def test_the_stylesheet_loads_nothing_from_another_host():
    css = (STATIC / "css" / "app.css").read_text()
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", css)


# --- Production settings ----------------------------------------------------------------------------------

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
health = client.get("/healthz")
login = client.get("/accounts/login/")
secure = client.get("/accounts/login/", secure=True)
print(json.dumps({
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "LANGUAGE_COOKIE_SECURE": settings.LANGUAGE_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "DEBUG": settings.DEBUG,
    "health": health.status_code,
    "login": [login.status_code, login.get("Location", "")],
    "hsts": secure.get("Strict-Transport-Security", ""),
}))
"""


def production_settings(tmp_path: Path, https: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENNRM_", "DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="opennrm.settings",
        OPENNRM_INSTANCE_DIR=str(tmp_path),
        OPENNRM_HTTPS=https,
        OPENNRM_ALLOWED_HOSTS="testserver",
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]),
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_settings_over_https_secure_cookies_hsts_and_redirect(tmp_path):
    found = production_settings(tmp_path, "true")
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["CSRF_COOKIE_SECURE"] is True
    assert found["LANGUAGE_COOKIE_SECURE"] is True
    assert found["SECURE_HSTS_SECONDS"] >= 31536000
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["DEBUG"] is False
    assert found["login"][0] == 301
    assert found["login"][1].startswith("https://testserver/accounts/login/")
    assert "max-age=" in found["hsts"]
    assert found["health"] == 200  # load balancers probe over plain HTTP


def test_https_is_the_default(tmp_path):
    found = production_settings(tmp_path, "")
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SESSION_COOKIE_SECURE"] is True


def test_plain_http_can_be_chosen_for_a_local_run(tmp_path):
    found = production_settings(tmp_path, "false")
    assert found["SECURE_SSL_REDIRECT"] is False
    assert found["SESSION_COOKIE_SECURE"] is False
    assert found["login"][0] == 200


# --- Health ---------------------------------------------------------------------------------------------


def test_health_answers_without_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# --- Logs -----------------------------------------------------------------------------------------------


@pytest.fixture
def json_log():
    """The structured log as the configured handler would write it (same formatter and filters)."""
    configured = next(
        h for h in logging.getLogger().handlers if type(h.formatter).__name__ == "JsonFormatter"
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configured.formatter)
    for log_filter in configured.filters:
        handler.addFilter(log_filter)
    loggers = [logging.getLogger(), logging.getLogger("django.request"), logging.getLogger("django.security")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
    # Verbose on purpose: an operator turning the level up must still get no identifying data.
    logging.getLogger("django.request").setLevel(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    yield stream
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_logs_of_a_failed_login_and_a_search_hold_no_name(json_log):
    UserFactory(username="nino.beridze", first_name="Nino", last_name="Beridze")
    auditor = member(Role.AUDITOR, agency=AgencyFactory())
    logged_in = logged_in_client(auditor)
    json_log.truncate(0)  # only what the requests below log (the factories log at DEBUG while building data)
    json_log.seek(0)
    client = Client()
    client.post("/accounts/login/?q=Beridze", {"username": "nino.beridze", "password": "wrong password"})
    client.post("/accounts/login/?q=Beridze", {"username": "nino.beridze", "password": ""})
    Client(HTTP_AUTHORIZATION="Token onrm_x_Beridze").get("/api/v1/agencies/?q=Beridze")
    logged_in.get("/accounts/agencies/?q=Beridze")
    logged_in.get("/accounts/agencies/nino-beridze/?q=Beridze")  # 404, logged as a warning
    logged_in.get("/audit/?action=Beridze&q=Beridze")
    Client(enforce_csrf_checks=True).post(
        "/accounts/login/?q=Beridze", {"username": "nino.beridze"}
    )  # CSRF 403

    lines = [line for line in json_log.getvalue().splitlines() if line.strip()]
    assert lines, "the requests above produce log lines (404, 401, 403)"
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert "request_id" in entry
        assert "beridze" not in line.lower(), line


def test_a_log_line_carries_the_request_id_of_its_response(json_log):
    """An operator can go from a response (or an audit entry) to its log lines and back."""
    client = logged_in_client(member(Role.CASE_WORKER))
    json_log.truncate(0)
    json_log.seek(0)
    response = client.get("/accounts/agencies/aaaaaaaaaaaaaaaaaaaaaaaa/")
    assert response.status_code == 404
    entries = [json.loads(line) for line in json_log.getvalue().splitlines() if line.strip()]
    request_lines = [e for e in entries if e["logger"] == "django.request"]
    assert request_lines, "a 404 is logged"
    assert all(e["request_id"] == response["X-Request-ID"] for e in request_lines), request_lines


def test_an_exception_is_logged_by_type_and_place_not_by_message(json_log):
    logger = logging.getLogger("opennrm.test")
    try:
        raise ValueError("duplicate key: Beridze, Nino, born 1990-01-01")
    except ValueError:
        logger.exception("saving failed")
    entry = json.loads(json_log.getvalue().splitlines()[-1])
    assert entry["exception"] == "ValueError"
    assert entry["message"] == "saving failed"
    assert "Beridze" not in json_log.getvalue()


# --- Request ids ----------------------------------------------------------------------------------------


def test_every_response_has_a_request_id_that_the_audit_entry_repeats():
    user = member(Role.CASE_WORKER)
    client = Client()
    first = client.get("/accounts/login/")
    second = client.post(
        "/accounts/login/", {"username": user.username, "password": "correct horse battery staple"}
    )
    ids = {first["X-Request-ID"], second["X-Request-ID"]}
    assert len(ids) == 2 and all(re.fullmatch(r"[A-Za-z0-9._-]{8,64}", i) for i in ids)

    page = client.get("/accounts/2fa/enrol/").content.decode()
    secret = re.search(r'<code id="totp-secret"[^>]*>([A-Z2-7]+)</code>', page).group(1)
    response = client.post("/accounts/2fa/enrol/", {"code": totp.code_for(secret)})
    assert response.status_code == 302
    login_entry = AuditEntry.objects.get(action="user.login")
    assert login_entry.request_id == response["X-Request-ID"]
    assert AuditEntry.objects.get(action="user.two_factor_enrolled").request_id == response["X-Request-ID"]


def test_a_well_formed_request_id_from_the_proxy_is_kept_and_a_bad_one_replaced():
    kept = Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c21-0001")
    assert kept["X-Request-ID"] == "lb-7f3a9c21-0001"
    for bad in ("short", "has spaces in it ok", "x" * 65, "<script>alert(1)</script>"):
        replaced = Client().get("/healthz", HTTP_X_REQUEST_ID=bad)
        assert replaced["X-Request-ID"] != bad
        assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", replaced["X-Request-ID"])
