"""Registering partner instances and their public keys (administrators, by command or in the admin)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from opennrm.accounts.models import User
from opennrm.cooperation.keys import b64d, key_id
from opennrm.cooperation.models import KeyPurpose, Partner, PartnerKey, PartnerStatus
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.reference import is_valid_country


def _check_key(raw_b64: str, purpose: KeyPurpose) -> str:
    try:
        raw = b64d(raw_b64.strip())
        if purpose == KeyPurpose.SIGNING:
            Ed25519PublicKey.from_public_bytes(raw)
        else:
            X25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise DomainError(_("This is not a valid public key."), code="invalid_key") from exc
    return key_id(raw)


@transaction.atomic
def register_partner(
    *,
    actor: User | None,
    code: str,
    country: str,
    name: str,
    base_url: str,
    signing_keys: Iterable[str],
    encryption_keys: Iterable[str],
    is_hub: bool = False,
) -> Partner:
    """Register a partner, or update its address and add its new public keys (rotation). Keys already known stay
    valid until revoked, so messages signed with the old key during the change-over are still accepted."""
    code = code.strip().upper()
    country = country.strip().upper()
    if not code or len(code) > 16:
        raise DomainError(_("A partner code is 1 to 16 characters."), code="invalid_code")
    if not is_valid_country(country):
        raise DomainError(_("Unknown country code."), code="invalid_country")
    # Plain http only to loopback, or where the whole platform runs without TLS (`make run`).
    loopback = base_url.startswith(("http://127.0.0.1:", "http://localhost:", "http://[::1]:"))
    if not (
        base_url.startswith("https://") or loopback or (not settings.HTTPS and base_url.startswith("http://"))
    ):
        raise DomainError(_("The address must start with https://."), code="invalid_url")
    checked = [(KeyPurpose.SIGNING, k, _check_key(k, KeyPurpose.SIGNING)) for k in signing_keys] + [
        (KeyPurpose.ENCRYPTION, k, _check_key(k, KeyPurpose.ENCRYPTION)) for k in encryption_keys
    ]
    partner, created = Partner.objects.select_for_update().get_or_create(
        code=code, defaults={"country": country, "name": name or code, "base_url": base_url, "is_hub": is_hub}
    )
    if created and not {KeyPurpose.SIGNING, KeyPurpose.ENCRYPTION} <= {
        purpose for purpose, _k, _i in checked
    }:
        raise DomainError(
            _("A new partner needs at least one signing key and one encryption key."), code="no_keys"
        )
    if not created:
        if partner.status == PartnerStatus.REVOKED:
            raise DomainError(
                _("This partner was revoked; it cannot be registered again."), code="partner_revoked"
            )
        partner.country, partner.name, partner.base_url, partner.is_hub = (
            country,
            name or partner.name,
            base_url,
            is_hub,
        )
        partner.save()
    added = []
    for purpose, raw, kid in checked:
        _key, new = PartnerKey.objects.get_or_create(
            partner=partner, purpose=purpose, key_id=kid, defaults={"public_key": raw.strip()}
        )
        if new:
            added.append(kid)
    audit.record(
        actor=actor,
        action="coop.partner_registered" if created else "coop.partner_updated",
        target=partner,
        details={"partner": code, "keys_added": added},
    )
    return partner


def register_from_card(*, actor: User | None, card: dict[str, Any]) -> Partner:
    """Register a partner from the card its administrator printed with `coop_keys show --json`.

    The card's active encryption key is registered last, so it is the one this instance encrypts to (the newest
    key that is not revoked), whatever order the card lists its keys in."""
    try:
        encryption_keys = [str(k) for k in card["encryption_keys"]]
        active = str(card.get("active_encryption_key") or "")
        if active:
            encryption_keys = [k for k in encryption_keys if k != active] + [active]
        return register_partner(
            actor=actor,
            code=str(card["code"]),
            country=str(card["country"]),
            name=str(card.get("name") or card["code"]),
            base_url=str(card["url"]),
            signing_keys=[str(k) for k in card["signing_keys"]],
            encryption_keys=encryption_keys,
            is_hub=bool(card.get("is_hub", False)),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise DomainError(_("The partner card is incomplete."), code="invalid_card") from exc


@transaction.atomic
def revoke_partner(*, actor: User | None, partner: Partner) -> Partner:
    """A revoked partner's messages are refused and nothing more is sent to it."""
    partner.status = PartnerStatus.REVOKED
    partner.revoked_at = timezone.now()
    partner.save(update_fields=["status", "revoked_at", "updated_at"])
    audit.record(
        actor=actor, action="coop.partner_revoked", target=partner, details={"partner": partner.code}
    )
    return partner


@transaction.atomic
def revoke_key(*, actor: User | None, key: PartnerKey) -> PartnerKey:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at", "updated_at"])
    audit.record(
        actor=actor,
        action="coop.partner_key_revoked",
        target=key.partner,
        details={"partner": key.partner.code, "key_id": key.key_id, "purpose": key.purpose},
    )
    return key
