"""Writes of the accounts app: one function per act, atomic, audited."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from opennrm.accounts import totp
from opennrm.accounts.models import Agency, ApiToken, LoginFailure, Membership, TOTPDevice, User
from opennrm.accounts.roles import Role, Scope
from opennrm.core import audit


def _username_digest(username: str) -> str:
    # Keyed so the throttle table does not list who tried to log in.
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, username.strip().casefold().encode(), hashlib.sha256).hexdigest()


def login_blocked_for(*, username: str, address: str | None) -> bool:
    """True while an account or an address has too many recent failures (password or code)."""
    since = timezone.now() - settings.OPENNRM_LOGIN_WINDOW
    limit = settings.OPENNRM_LOGIN_MAX_FAILURES
    recent = LoginFailure.objects.filter(at__gte=since)
    if recent.filter(username_digest=_username_digest(username)).count() >= limit:
        return True
    # An address is allowed more (several staff behind one office gateway), but not unlimited guessing.
    return bool(address) and recent.filter(address=address).count() >= limit * 4


def record_login_failure(*, username: str, address: str | None, stage: str) -> None:
    LoginFailure.objects.create(
        username_digest=_username_digest(username), address=address or None, stage=stage
    )
    audit.record(actor=None, action=f"user.login_failed.{stage}", details={"address": address or ""})


def clear_login_failures(*, username: str) -> None:
    LoginFailure.objects.filter(username_digest=_username_digest(username)).delete()


@transaction.atomic
def start_enrolment(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed authenticator for a user who has none confirmed yet."""
    device, _created = TOTPDevice.objects.select_for_update().get_or_create(
        user=user, defaults={"secret": totp.new_secret()}
    )
    if device.confirmed_at is None and not _created:
        device.secret = totp.new_secret()
        device.save(update_fields=["secret", "updated_at"])
    return device


@transaction.atomic
def verify_code(*, user: User, code: str, confirm: bool = False) -> bool:
    """Check a TOTP code; each code is accepted once. `confirm=True` completes an enrolment."""
    device = TOTPDevice.objects.select_for_update().filter(user=user).first()
    if device is None or (device.confirmed_at is None and not confirm):
        return False
    step = totp.matching_step(secret=device.secret, code=code, after_step=device.last_used_step)
    if step is None:
        return False
    device.last_used_step = step
    fields = ["last_used_step", "updated_at"]
    if confirm and device.confirmed_at is None:
        device.confirmed_at = timezone.now()
        fields.append("confirmed_at")
        audit.record(actor=user, action="user.two_factor_enrolled", target=user)
    device.save(update_fields=fields)
    return True


@transaction.atomic
def reset_two_factor(*, actor: User, user: User) -> None:
    """An administrator removes a lost authenticator; the user enrols again at next login."""
    TOTPDevice.objects.filter(user=user).delete()
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    audit.record(actor=actor, action="user.two_factor_reset", target=user)


@transaction.atomic
def logout_everywhere(*, actor: User) -> None:
    """End every session of the user, on every device, by moving their session epoch on."""
    User.objects.filter(pk=actor.pk).update(session_epoch=F("session_epoch") + 1)
    actor.refresh_from_db(fields=["session_epoch"])
    # A lost or stolen device may hold a token too: "everywhere" includes the API.
    revoked = ApiToken.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit.record(
        actor=actor, action="user.logout_everywhere", target=actor, details={"tokens_revoked": revoked}
    )


TOKEN_PREFIX = "onrm"  # noqa: S105 - a public marker, not a secret


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def create_api_token(*, actor: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for the actor. The raw token is returned once and never stored."""
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=actor, name=name, prefix=prefix, digest=_token_digest(raw), expires_at=expires_at
    )
    audit.record(actor=actor, action="api_token.created", target=token)
    return token, raw


def user_for_token(raw: str) -> tuple[User, ApiToken] | None:
    parts = raw.split("_")
    if len(parts) < 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if token is None or not hmac.compare_digest(token.digest, _token_digest(raw)):
        return None
    now = timezone.now()
    if (token.expires_at and token.expires_at <= now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > settings.OPENNRM_IDLE_TIMEOUT / 30:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at", "updated_at"])
    audit.record(actor=actor, action="api_token.revoked", target=token)


@transaction.atomic
def create_user(
    *,
    actor: User | None,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    user = User.objects.create_user(
        username=username, password=password, first_name=first_name, last_name=last_name, email=email
    )
    audit.record(actor=actor, action="user.created", target=user)
    return user


@transaction.atomic
def grant_membership(
    *,
    actor: User | None,
    user: User,
    agency: Agency,
    role: Role,
    scope: Scope = Scope.AGENCY,
    expires_at: datetime | None = None,
) -> Membership:
    membership = Membership.objects.create(
        user=user, agency=agency, role=role, scope=scope, expires_at=expires_at
    )
    audit.record(
        actor=actor,
        action="membership.granted",
        target=membership,
        details={"role": role, "scope": scope, "agency": agency.public_id},
    )
    return membership


@transaction.atomic
def revoke_membership(*, actor: User, membership: Membership) -> None:
    membership.revoked_at = timezone.now()
    membership.save(update_fields=["revoked_at", "updated_at"])
    audit.record(actor=actor, action="membership.revoked", target=membership)
