"""Every page needs a fully logged-in user (password and TOTP) unless it is explicitly public.

A user only becomes `request.user` after both factors (see `views.py`), so "authenticated" here means "verified".
The middleware also ends sessions that were logged out everywhere, left idle too long, or opened longer ago
than the session lifetime (OPENNRM_SESSION_MINUTES), however active they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from opennrm.accounts.access import request_access, set_acting_agency

PUBLIC_PREFIXES = (
    "/accounts/login",
    "/accounts/2fa",
    "/i18n/",
    "/healthz",
    "/static/",
    "/api/",
    "/public/",
    "/coop/v1/",
)


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            session = request.session
            now = int(time.time())
            idle = settings.OPENNRM_IDLE_TIMEOUT.total_seconds()
            stale_epoch = session.get("epoch") != user.session_epoch
            idle_too_long = now - int(session.get("last_seen", now)) > idle
            # Sessions opened before "login_at" was recorded start counting at their next request.
            too_old = now - int(session.setdefault("login_at", now)) > settings.SESSION_COOKIE_AGE
            if stale_epoch or idle_too_long or too_old:
                logout(request)
                return self._to_login(request, expired=True)
            if now - int(session.get("last_seen", 0)) > 60:
                session["last_seen"] = now  # at most one session write a minute
        elif not request.path.startswith(PUBLIC_PREFIXES):
            return self._to_login(request)
        request.access = SimpleLazyObject(lambda: request_access(request))  # type: ignore[attr-defined]
        if user.is_authenticated:
            set_acting_agency(request_access(request))
        return self.get_response(request)

    def _to_login(self, request: HttpRequest, *, expired: bool = False) -> HttpResponse:
        url = reverse("accounts:login")
        params = []
        if request.method == "GET" and not request.path.startswith(PUBLIC_PREFIXES):
            params.append("next=" + quote(request.get_full_path(), safe="/"))
        if expired:
            params.append("expired=1")
        if params:
            url += "?" + "&".join(params)
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)
