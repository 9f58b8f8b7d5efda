from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from opennrm.accounts.access import access_for, set_acting_agency
from opennrm.accounts.services import user_for_token


class HashedTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token onrm_<prefix>_<secret>`; only the SHA-256 of the token is stored."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header.")) from None
        found = user_for_token(raw)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        set_acting_agency(access_for(found[0]))
        return found

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The browser session; `request.user` is only set once both factors were given (see the login views)."""


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token scheme in the OpenAPI schema."""

    target_class = "opennrm.accounts.api_auth.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Personal API token: `Token onrm_<prefix>_<secret>` (create it on your account page).",
        }


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "opennrm.accounts.api_auth.VerifiedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
