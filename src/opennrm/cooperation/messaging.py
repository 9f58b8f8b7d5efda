"""Sending and receiving messages between instances.

- `send()` writes an `OutboxMessage` inside the caller's transaction: the message exists if and only if the change
  that caused it was committed. After commit a delivery task is queued; a periodic task and `deliver_outbox` pick
  up whatever is still due, so a partner that is down for a week loses nothing.
- `deliver_due()` seals each due message afresh (new time, new signature, same message id) and POSTs it to the
  partner's inbox. A 2xx answer naming the message id, or a 409 "replayed" (the partner already has it), marks it
  delivered; 400, 413 and 422 (the partner will never take it as it is) and a revoked partner mark it failed at
  once; anything else (network errors, 403, 5xx, redirects) is retried with exponential back-off until
  `OPENNRM_COOP_GIVE_UP_DAYS`, then it is marked failed for an administrator.
- `receive()` is the inbox: it refuses anything it cannot verify (see `envelope`), records the message id under a
  unique constraint and runs the handler for its type in one transaction, so a message acts at most once and a
  handler that fails leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from opennrm.accounts.models import User
from opennrm.cooperation import envelope as env
from opennrm.cooperation.models import (
    DeliveryStatus,
    InboxMessage,
    KeyPurpose,
    MessageType,
    OutboxMessage,
    Partner,
    PartnerStatus,
    Rejection,
)
from opennrm.core import audit
from opennrm.core.errors import DomainError

log = logging.getLogger("opennrm.cooperation")

INBOX_PATH = "/coop/v1/inbox"

Handler = Callable[[InboxMessage, Any], None]
_handlers: dict[str, Handler] = {}


def error_text(exc: DomainError) -> str:
    """A refusal's messages as one line (for logs, command errors and answers to partners)."""
    return "; ".join(str(m) for m in exc.messages)


def register_handler(type: str, handler: Handler) -> None:
    """Apps register what a message type does when it arrives (in AppConfig.ready())."""
    _handlers[type] = handler


# --- sending ------------------------------------------------------------------------------------------


def active_partner(code: str) -> Partner:
    partner = Partner.objects.filter(code=code, status=PartnerStatus.ACTIVE).first()
    if partner is None:
        raise DomainError(
            _("No active partner instance %(code)s is registered.") % {"code": code}, code="partner"
        )
    return partner


def send(*, partner: Partner, type: MessageType | str, payload: Any, subject: str = "") -> OutboxMessage:
    """Queue a message to a partner in the caller's transaction; delivered after commit."""
    if partner.status != PartnerStatus.ACTIVE:
        raise DomainError(_("This partner instance is revoked."), code="partner_revoked")
    message = OutboxMessage.objects.create(
        partner=partner, type=str(type), payload=payload, subject=subject[:64], next_attempt_at=timezone.now()
    )
    audit.record(
        actor=None,
        action="coop.message_queued",
        target=message,
        details={"type": str(type), "partner": partner.code, "message_id": str(message.message_id)},
    )
    transaction.on_commit(_enqueue_delivery)
    return message


def _enqueue_delivery() -> None:
    from opennrm.cooperation.tasks import deliver_outbox

    try:
        deliver_outbox.enqueue()
    except Exception:  # the periodic task delivers it anyway
        log.warning("coop delivery task could not be queued", exc_info=True)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


Transport = Callable[[str, bytes], Response]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a place to go: urllib would follow it as a GET without the body, and a page
    answering that GET with 200 would pass for a delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes) -> Response:
    if not url.startswith(("https://", "http://")):
        raise OSError("partner address is not http(s)")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "OpenNRM-coop/1"},
    )
    try:
        with _opener.open(request, timeout=settings.OPENNRM_COOP_TIMEOUT_SECONDS) as reply:
            return Response(reply.status, reply.read(4096))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read(4096) if exc.fp else b"")


def _answer(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _confirms(reply: Response, message: OutboxMessage) -> bool:
    """Whether the reply comes from an OpenNRM inbox that has this message: a 2xx naming its id, or a 409 saying
    it was already received. Any other 2xx (a proxy's page, a captive portal) is not a delivery."""
    answer = _answer(reply.body)
    if 200 <= reply.status < 300:
        return answer.get("message_id") == str(message.message_id)
    return reply.status == 409 and answer.get("reason") == "replayed"


def _encryption_key(partner: Partner) -> str:
    key = (
        partner.keys.filter(purpose=KeyPurpose.ENCRYPTION, revoked_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    if key is None:
        raise DomainError(_("The partner has no encryption key registered."), code="no_key")
    return key.public_key


def backoff(attempts: int) -> dt.timedelta:
    base = settings.OPENNRM_COOP_RETRY_SECONDS * (2 ** max(attempts - 1, 0))
    seconds = min(base, settings.OPENNRM_COOP_RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2)  # noqa: S311
    return dt.timedelta(seconds=seconds)


def deliver_one(message: OutboxMessage, transport: Transport = http_post) -> bool:
    """One delivery attempt. Returns True when the partner has the message."""
    partner = message.partner
    now = timezone.now()
    error = ""
    delivered = False
    permanent = False
    try:
        if partner.status != PartnerStatus.ACTIVE:
            permanent = True  # revocation is final: nothing more goes to this partner
            raise DomainError(_("This partner instance is revoked."), code="partner_revoked")
        sealed = env.seal(
            message_id=message.message_id,
            recipient=partner.code,
            recipient_encryption_key=_encryption_key(partner),
            type=message.type,
            payload=message.payload,
        )
        reply = transport(partner.base_url.rstrip("/") + INBOX_PATH, env.canonical(sealed))
        if _confirms(reply, message):
            delivered = True
        else:
            permanent = reply.status in (400, 413, 422)  # the partner will never take this message as it is
            error = f"HTTP {reply.status}: {reply.body[:200].decode('utf-8', 'replace')}"
    except DomainError as exc:
        error = error_text(exc)
    except Exception as exc:  # network errors and any other: one message never blocks the outbox
        if not isinstance(exc, OSError):
            log.exception("coop delivery error", extra={"message_id": str(message.message_id)})
        error = f"{type(exc).__name__}: {exc}"[:300]
    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if locked.status != DeliveryStatus.PENDING:
            return locked.status == DeliveryStatus.DELIVERED
        locked.attempts += 1
        if delivered:
            locked.status = DeliveryStatus.DELIVERED
            locked.delivered_at = now
            locked.last_error = ""
            locked.next_attempt_at = None
        else:
            locked.last_error = error[:300]
            if permanent or now - locked.created_at > dt.timedelta(days=settings.OPENNRM_COOP_GIVE_UP_DAYS):
                locked.status = DeliveryStatus.FAILED
                locked.next_attempt_at = None
            else:
                locked.next_attempt_at = now + backoff(locked.attempts)
        locked.save(
            update_fields=[
                "attempts",
                "status",
                "delivered_at",
                "last_error",
                "next_attempt_at",
                "updated_at",
            ]
        )
    log.info(
        "coop delivery",
        extra={
            "message_id": str(message.message_id),
            "partner": partner.code,
            "type": message.type,
            "delivered": delivered,
            "reason": error[:120],
        },
    )
    return delivered


def deliver_due(*, transport: Transport = http_post, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Deliver every pending message whose next attempt is due, oldest first. Returns how many were delivered."""
    now = now or timezone.now()
    due = list(
        OutboxMessage.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .select_related("partner")
        .order_by("created_at")[:limit]
    )
    return sum(1 for message in due if _claim(message, now) and deliver_one(message, transport))


def _claim(message: OutboxMessage, now: dt.datetime) -> bool:
    """Take a due message for this worker: a compare-and-swap pushes its next attempt past the delivery timeout,
    so a second worker (or scheduler) running at the same moment skips it, and a worker that dies mid-delivery
    leaves it due again once the lease has passed."""
    lease = now + dt.timedelta(seconds=settings.OPENNRM_COOP_TIMEOUT_SECONDS + 30)
    claimed = OutboxMessage.objects.filter(
        pk=message.pk, status=DeliveryStatus.PENDING, next_attempt_at=message.next_attempt_at
    ).update(next_attempt_at=lease)
    return claimed == 1


@transaction.atomic
def retry_now(*, actor: User, message: OutboxMessage) -> bool:
    """An administrator asks for another attempt now (also of a message that was given up). A message already
    delivered, or to a revoked partner, is left as it is. Returns whether an attempt was scheduled."""
    scheduled = (
        OutboxMessage.objects.filter(pk=message.pk, partner__status=PartnerStatus.ACTIVE)
        .exclude(status=DeliveryStatus.DELIVERED)
        .update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), updated_at=timezone.now())
    )
    if scheduled:
        audit.record(
            actor=actor,
            action="coop.message_retry",
            target=message,
            details={"partner": message.partner.code, "message_id": str(message.message_id)},
        )
        transaction.on_commit(_enqueue_delivery)
    return bool(scheduled)


# --- receiving ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    message: InboxMessage


def _refuse(envelope: dict[str, Any] | None, refusal: env.Refused, remote_addr: str) -> None:
    envelope = envelope or {}
    Rejection.objects.create(
        claimed_sender=str(envelope.get("sender", ""))[:32],
        claimed_message_id=str(envelope.get("id", ""))[:64],
        claimed_type=str(envelope.get("type", ""))[:32],
        reason=refusal.reason,
        detail=refusal.detail[:300],
        remote_addr=remote_addr[:64],
    )
    log.warning(
        "coop message refused",
        extra={
            "reason": refusal.reason,
            "detail": refusal.detail[:200],
            "sender": str(envelope.get("sender", ""))[:32],
            "message_id": str(envelope.get("id", ""))[:64],
        },
    )


def _verify(envelope: dict[str, Any]) -> tuple[Partner, env.Opened]:
    env.check_form(envelope)
    if envelope["recipient"] != settings.OPENNRM_COOP_ID:
        raise env.Refused("wrong_recipient", f"addressed to {str(envelope['recipient'])[:16]}")
    partner = Partner.objects.filter(code=str(envelope["sender"])).first()
    if partner is None:
        raise env.Refused("unknown_partner", f"{str(envelope['sender'])[:16]} is not a registered partner")
    if partner.status != PartnerStatus.ACTIVE:
        raise env.Refused("revoked_partner", f"{partner.code} is revoked")
    keys = dict(
        partner.keys.filter(purpose=KeyPurpose.SIGNING, revoked_at__isnull=True).values_list(
            "key_id", "public_key"
        )
    )
    env.verify_signature(envelope, keys)
    sent_at = env.sent_time(envelope)
    if envelope["type"] not in _handlers:
        raise env.Refused("unknown_type", f"no handler for {str(envelope['type'])[:32]}", status=422)
    payload = env.decrypt(envelope)
    return partner, env.Opened(
        message_id=uuid.UUID(str(envelope["id"])),
        sender=partner.code,
        type=str(envelope["type"]),
        sent_at=sent_at,
        payload=payload,
    )


def _check_not_seen(partner: Partner, message_id: uuid.UUID) -> None:
    seen = InboxMessage.objects.filter(message_id=message_id).values_list("partner_id", flat=True).first()
    if seen is None:
        return
    if seen == partner.pk:
        raise env.Refused("replayed", "this message id was already received", status=409)
    # Another partner's message had this id: never answer 409 here, which would tell the sender that *its*
    # message had arrived.
    raise env.Refused("id_conflict", "this message id was used by another partner", status=422)


def receive(body: bytes, *, remote_addr: str = "") -> tuple[int, dict[str, str]]:
    """The inbox. Returns an HTTP status and a small JSON answer for the sender."""
    envelope: dict[str, Any] | None = None
    try:
        envelope = env.parse(body)
        partner, opened = _verify(envelope)
        handler = _handlers[opened.type]
        try:
            with transaction.atomic():
                message = InboxMessage.objects.create(
                    message_id=opened.message_id,
                    partner=partner,
                    type=opened.type,
                    sent_at=opened.sent_at,
                    payload=opened.payload,
                )
                handler(message, opened.payload)
                audit.record(
                    actor=None,
                    action="coop.message_received",
                    target=message,
                    details={
                        "type": opened.type,
                        "partner": partner.code,
                        "message_id": str(opened.message_id),
                    },
                )
        except IntegrityError:
            # The message id is unique: a replay, or a concurrent delivery of the same message that won the race.
            _check_not_seen(partner, opened.message_id)
            raise
        except DomainError as exc:
            raise env.Refused("invalid_content", error_text(exc), status=422) from exc
    except env.Refused as refusal:
        _refuse(envelope, refusal, remote_addr)
        return refusal.status, {"status": "refused", "reason": refusal.reason, "detail": refusal.detail}
    return 202, {"status": "accepted", "message_id": str(opened.message_id)}
