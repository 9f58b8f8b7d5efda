"""The transactional outbox, delivery with retries and back-off, and the administrators' view of deliveries.

Delivery goes through an injected transport where the test needs a partner that is down or answers oddly; where
it needs a partner that works, the transport hands the sealed bytes to this instance's real inbox (this instance
registered as its own partner from its own card), or a real HTTP server (`live_server`) receives them."""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.cooperation import messaging, partners
from opennrm.cooperation.models import (
    DeliveryStatus,
    InboxMessage,
    OutboxMessage,
    Partner,
    Rejection,
)
from opennrm.cooperation.tasks import prune_rejections
from opennrm.cooperation.tests import coop_kit as kit
from opennrm.core.errors import DomainError
from opennrm.core.models import AuditEntry


@pytest.fixture
def instance(settings: Any, tmp_path: Any) -> Iterator[None]:
    kit.isolate_instance(settings, tmp_path)
    with kit.registered_test_handlers():
        yield


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instance")]

SECRET = "Tamar Gelashvili"  # a payload value that must never be shown or stored in clear


class Loopback:
    """A transport to this instance's own inbox, counting its calls. `lose_answer`: the inbox takes the message
    but the answer never arrives (the connection drops), as when a partner's proxy times out."""

    def __init__(self, *, lose_answer: bool = False) -> None:
        self.calls: list[str] = []
        self.lose_answer = lose_answer

    def __call__(self, url: str, body: bytes) -> messaging.Response:
        self.calls.append(url)
        status, answer = messaging.receive(body)
        if self.lose_answer:
            self.lose_answer = False
            raise ConnectionResetError("connection reset by peer")
        return messaging.Response(status, json.dumps(answer).encode())


class Down:
    """A partner that cannot be reached."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error or ConnectionRefusedError("connection refused")

    def __call__(self, url: str, body: bytes) -> messaging.Response:
        self.calls += 1
        raise self.error


def answering(status: int, body: bytes = b"") -> messaging.Transport:
    def transport(url: str, raw: bytes) -> messaging.Response:
        return messaging.Response(status, body)

    return transport


def queue(partner: Partner, *, type: str = kit.NOTE, payload: Any = None) -> OutboxMessage:
    with transaction.atomic():
        return messaging.send(partner=partner, type=type, payload={"n": 1} if payload is None else payload)


def reload(message: OutboxMessage) -> OutboxMessage:
    message.refresh_from_db()
    return message


# --- the transactional outbox -------------------------------------------------------------------------


def test_a_message_sent_in_a_transaction_that_rolls_back_does_not_exist():
    partner = kit.this_instance_as_partner()

    class Undone(Exception):
        pass

    with pytest.raises(Undone), transaction.atomic():
        messaging.send(partner=partner, type=kit.NOTE, payload={"n": 1})
        assert OutboxMessage.objects.count() == 1
        raise Undone

    assert OutboxMessage.objects.count() == 0
    assert not AuditEntry.objects.filter(action="coop.message_queued").exists()


def test_a_sent_message_waits_in_the_outbox_encrypted_and_is_due_now(django_capture_on_commit_callbacks):
    partner = kit.this_instance_as_partner()
    with django_capture_on_commit_callbacks() as callbacks:
        message = queue(partner, payload={"name": SECRET})
    assert len(callbacks) == 1  # a delivery task is queued after the commit
    message = reload(message)
    assert (message.status, message.attempts) == (DeliveryStatus.PENDING, 0)
    assert message.next_attempt_at is not None and message.next_attempt_at <= timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT payload FROM {OutboxMessage._meta.db_table}")  # noqa: S608 - a model's table
        (stored,) = cursor.fetchone()
    assert SECRET not in stored
    assert message.payload == {"name": SECRET}


def test_nothing_is_queued_for_a_revoked_partner():
    partner = kit.this_instance_as_partner()
    partners.revoke_partner(actor=None, partner=partner)
    with pytest.raises(DomainError):
        queue(partner)
    assert OutboxMessage.objects.count() == 0


# --- delivery -----------------------------------------------------------------------------------------


def test_a_due_message_is_delivered_and_acts_once_at_the_partner():
    message = queue(kit.this_instance_as_partner(base_url="https://ge.example.org/"))
    transport = Loopback()

    assert messaging.deliver_due(transport=transport) == 1

    message = reload(message)
    assert (message.status, message.attempts, message.last_error) == (DeliveryStatus.DELIVERED, 1, "")
    assert message.delivered_at is not None and message.next_attempt_at is None
    assert transport.calls == ["https://ge.example.org/coop/v1/inbox"]
    assert InboxMessage.objects.get().message_id == message.message_id
    assert kit.effects() == 1
    assert messaging.deliver_due(transport=transport) == 0  # nothing is sent twice
    assert len(transport.calls) == 1


def test_a_partner_that_is_down_gets_the_message_later_with_growing_back_off():
    message = queue(kit.this_instance_as_partner())
    down = Down()

    assert messaging.deliver_due(transport=down) == 0
    first = reload(message)
    assert (first.status, first.attempts) == (DeliveryStatus.PENDING, 1)
    assert "ConnectionRefusedError" in first.last_error
    assert first.next_attempt_at > first.updated_at
    first_wait = first.next_attempt_at - first.updated_at

    assert messaging.deliver_due(transport=down) == 0  # not due yet
    assert down.calls == 1

    assert messaging.deliver_due(transport=down, now=first.next_attempt_at) == 0
    second = reload(message)
    assert (second.status, second.attempts, down.calls) == (DeliveryStatus.PENDING, 2, 2)
    assert second.next_attempt_at - second.updated_at > first_wait

    transport = Loopback()
    assert messaging.deliver_due(transport=transport, now=second.next_attempt_at) == 1
    assert reload(message).status == DeliveryStatus.DELIVERED
    assert kit.effects() == 1


def test_the_back_off_doubles_and_is_capped(settings):
    settings.OPENNRM_COOP_RETRY_SECONDS = 30
    settings.OPENNRM_COOP_RETRY_MAX_SECONDS = 3600
    waits = [messaging.backoff(attempt).total_seconds() for attempt in range(1, 12)]
    assert 24 <= waits[0] <= 36 and 48 <= waits[1] <= 72
    assert all(later > earlier for earlier, later in itertools.pairwise(waits[:7]))
    assert max(waits) <= 3600 * 1.2


def test_an_answer_lost_on_the_way_back_is_settled_by_the_409_of_the_retry():
    message = queue(kit.this_instance_as_partner())
    transport = Loopback(lose_answer=True)

    assert messaging.deliver_due(transport=transport) == 0
    assert reload(message).status == DeliveryStatus.PENDING
    assert InboxMessage.objects.count() == 1  # the partner has it already

    assert messaging.deliver_due(transport=transport, now=reload(message).next_attempt_at) == 1
    assert reload(message).status == DeliveryStatus.DELIVERED
    assert Rejection.objects.get().reason == "replayed"
    assert kit.effects() == 1  # acted once


def test_a_message_the_partner_refuses_for_its_content_fails_at_once():
    message = queue(kit.this_instance_as_partner(), type=kit.REFUSE)
    transport = Loopback()

    assert messaging.deliver_due(transport=transport) == 0

    message = reload(message)
    assert (message.status, message.attempts, message.next_attempt_at) == (DeliveryStatus.FAILED, 1, None)
    assert message.last_error.startswith("HTTP 422") and "invalid_content" in message.last_error
    assert messaging.deliver_due(transport=transport, now=timezone.now() + dt.timedelta(days=1)) == 0
    assert len(transport.calls) == 1
    assert InboxMessage.objects.count() == 0 and kit.effects() == 0


@pytest.mark.parametrize("status", [403, 404, 500, 502, 503])
def test_other_refusals_and_server_errors_are_retried(status):
    message = queue(kit.this_instance_as_partner())
    assert messaging.deliver_due(transport=answering(status, b'{"status": "refused"}')) == 0
    message = reload(message)
    assert (message.status, message.attempts) == (DeliveryStatus.PENDING, 1)
    assert message.last_error.startswith(f"HTTP {status}")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>Welcome</html>"),  # a proxy's or captive portal's page
        (202, b'{"status": "accepted", "message_id": "00000000-0000-4000-8000-000000000000"}'),
        (409, b'{"status": "refused", "reason": "id_conflict"}'),
        (302, b""),
    ],
)
def test_an_answer_that_does_not_confirm_this_message_is_not_a_delivery(status, body):
    message = queue(kit.this_instance_as_partner())
    assert messaging.deliver_due(transport=answering(status, body)) == 0
    assert reload(message).status == DeliveryStatus.PENDING


def test_a_partner_down_for_longer_than_the_give_up_delay_is_given_up(settings):
    message = queue(kit.this_instance_as_partner())
    old = timezone.now() - dt.timedelta(days=settings.OPENNRM_COOP_GIVE_UP_DAYS, hours=1)
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=old)

    assert messaging.deliver_due(transport=Down()) == 0

    message = reload(message)
    assert (message.status, message.next_attempt_at) == (DeliveryStatus.FAILED, None)
    assert "ConnectionRefusedError" in message.last_error


def test_a_week_down_is_not_given_up(settings):
    message = queue(kit.this_instance_as_partner())
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - dt.timedelta(days=7))
    messaging.deliver_due(transport=Down())
    assert reload(message).status == DeliveryStatus.PENDING
    assert messaging.deliver_due(transport=Loopback(), now=reload(message).next_attempt_at) == 1


def test_nothing_is_delivered_to_a_partner_revoked_after_queueing():
    partner = kit.this_instance_as_partner()
    message = queue(partner)
    partners.revoke_partner(actor=None, partner=partner)
    transport = Loopback()

    assert messaging.deliver_due(transport=transport) == 0

    assert transport.calls == []
    message = reload(message)
    assert (message.status, message.next_attempt_at) == (DeliveryStatus.FAILED, None)
    assert InboxMessage.objects.count() == 0


def test_a_message_that_breaks_the_transport_does_not_block_the_others():
    partner = kit.this_instance_as_partner()
    first, second = queue(partner), queue(partner)
    loopback = Loopback()

    def transport(url: str, body: bytes) -> messaging.Response:
        if json.loads(body)["id"] == str(first.message_id):
            raise http.client.BadStatusLine("garbage")  # not an OSError
        return loopback(url, body)

    assert messaging.deliver_due(transport=transport) == 1
    assert reload(first).status == DeliveryStatus.PENDING and "BadStatusLine" in reload(first).last_error
    assert reload(second).status == DeliveryStatus.DELIVERED


def test_a_partner_without_an_encryption_key_is_retried_with_the_reason():
    partner = kit.this_instance_as_partner()
    message = queue(partner)
    for key in partner.keys.filter(purpose="encryption"):
        partners.revoke_key(actor=None, key=key)
    assert messaging.deliver_due(transport=Loopback()) == 0
    message = reload(message)
    assert message.status == DeliveryStatus.PENDING
    assert message.last_error == "The partner has no encryption key registered."


# --- over real HTTP -----------------------------------------------------------------------------------


def test_delivery_over_http_to_a_live_inbox(live_server):
    """This instance delivers to itself over a real socket: seal, POST, verify, decrypt, act, answer."""
    message = queue(kit.this_instance_as_partner(base_url=live_server.url))

    assert messaging.deliver_due() == 1

    assert reload(message).status == DeliveryStatus.DELIVERED
    assert InboxMessage.objects.get().message_id == message.message_id
    assert kit.effects() == 1


def test_a_redirect_is_not_followed_nor_taken_for_a_delivery(live_server):
    """The admin answers an anonymous POST with a redirect to the login page, which answers GET with 200."""
    message = queue(kit.this_instance_as_partner(base_url=live_server.url + "/admin"))
    assert messaging.deliver_due() == 0
    message = reload(message)
    assert (message.status, message.last_error[:8]) == (DeliveryStatus.PENDING, "HTTP 302")
    assert InboxMessage.objects.count() == 0


def test_an_unreachable_partner_is_retried(settings):
    settings.OPENNRM_COOP_TIMEOUT_SECONDS = 2
    message = queue(kit.this_instance_as_partner(base_url="http://127.0.0.1:9"))  # discard port: closed
    assert messaging.deliver_due() == 0
    message = reload(message)
    assert (message.status, message.attempts) == (DeliveryStatus.PENDING, 1)
    assert message.last_error


# --- the administrators' view -------------------------------------------------------------------------


def outbox_with_one_failure() -> tuple[OutboxMessage, OutboxMessage]:
    partner = kit.this_instance_as_partner()
    failed = queue(partner, type=kit.REFUSE, payload={"name": SECRET})
    messaging.deliver_due(transport=Loopback())
    waiting = queue(partner, payload={"name": SECRET})
    messaging.deliver_due(transport=Down())
    return reload(failed), reload(waiting)


ADMIN_PAGES = [
    "/admin/cooperation/outboxmessage/",
    "/admin/cooperation/inboxmessage/",
    "/admin/cooperation/rejection/",
    "/admin/cooperation/partner/",
]


@pytest.mark.parametrize("role", list(Role))
def test_only_administrators_see_the_deliveries(role):
    failed, _waiting = outbox_with_one_failure()
    client = logged_in_client(member(role))
    for path in [*ADMIN_PAGES, f"/admin/cooperation/outboxmessage/{failed.pk}/change/"]:
        assert (client.get(path).status_code == 200) == (role == Role.ADMINISTRATOR), path


def test_administrators_see_status_attempts_and_errors_never_the_payload():
    failed, waiting = outbox_with_one_failure()
    received = queue(Partner.objects.get(), payload={"name": SECRET})
    messaging.deliver_due(transport=Loopback())
    inbox = InboxMessage.objects.get(message_id=received.message_id)
    rejection = Rejection.objects.get()
    client = logged_in_client(member(Role.ADMINISTRATOR))

    listing = client.get("/admin/cooperation/outboxmessage/").content.decode()
    assert "Failed: gave up" in listing and "Waiting to be delivered" in listing and "Delivered" in listing
    assert "HTTP 422" in listing and "ConnectionRefusedError" in listing

    pages = [
        *ADMIN_PAGES,
        "/admin/",
        f"/admin/cooperation/outboxmessage/{failed.pk}/change/",
        f"/admin/cooperation/outboxmessage/{waiting.pk}/change/",
        f"/admin/cooperation/inboxmessage/{inbox.pk}/change/",
        f"/admin/cooperation/rejection/{rejection.pk}/change/",
        f"/admin/cooperation/partner/{Partner.objects.get().pk}/change/",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.content.decode(), path
    assert "Cross-border cooperation" in client.get("/admin/").content.decode()


def test_an_administrator_retries_a_failed_message_now():
    failed, waiting = outbox_with_one_failure()
    admin = member(Role.ADMINISTRATOR)
    client = logged_in_client(admin)

    response = client.post(
        "/admin/cooperation/outboxmessage/",
        {"action": "retry_now", "_selected_action": [failed.pk, waiting.pk]},
    )

    assert response.status_code == 302
    for message in (reload(failed), reload(waiting)):
        assert message.status == DeliveryStatus.PENDING
        assert message.next_attempt_at is not None and message.next_attempt_at <= timezone.now()
    entries = AuditEntry.objects.filter(action="coop.message_retry")
    assert {e.target_id for e in entries} == {failed.public_id, waiting.public_id}
    assert {e.actor for e in entries} == {admin.public_id}


def test_a_delivered_message_or_one_to_a_revoked_partner_is_not_sent_again():
    partner = kit.this_instance_as_partner()
    delivered = queue(partner)
    messaging.deliver_due(transport=Loopback())
    waiting = queue(partner)
    partners.revoke_partner(actor=None, partner=partner)
    admin = member(Role.ADMINISTRATOR)

    assert not messaging.retry_now(actor=admin, message=delivered)
    assert not messaging.retry_now(actor=admin, message=waiting)
    assert reload(delivered).status == DeliveryStatus.DELIVERED
    assert not AuditEntry.objects.filter(action="coop.message_retry").exists()


def test_a_non_administrator_cannot_run_the_retry_action():
    failed, _waiting = outbox_with_one_failure()
    client = logged_in_client(member(Role.CASE_WORKER))
    response = client.post(
        "/admin/cooperation/outboxmessage/", {"action": "retry_now", "_selected_action": [failed.pk]}
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert reload(failed).status == DeliveryStatus.FAILED
    assert not AuditEntry.objects.filter(action="coop.message_retry").exists()


# --- claiming, addresses, retention ---------------------------------------------------------------------


def test_a_due_message_is_claimed_by_one_worker_only():
    message = queue(kit.this_instance_as_partner())
    first, second = reload(message), reload(message)  # two workers read the same due row
    now = timezone.now()
    assert messaging._claim(first, now) is True
    assert messaging._claim(second, now) is False
    # The claim pushes the next attempt past the delivery timeout: a worker that died leaves it due again later.
    assert reload(message).next_attempt_at > now


def test_a_partner_address_must_be_https_unless_loopback_or_the_platform_runs_without_tls(settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from opennrm.cooperation import keys

    card = {
        "code": "MD",
        "country": "MD",
        "url": "http://md.example.org",
        "signing_keys": [keys.public_b64(Ed25519PrivateKey.generate().public_key())],
        "encryption_keys": [keys.public_b64(X25519PrivateKey.generate().public_key())],
    }
    settings.HTTPS = True
    with pytest.raises(DomainError) as refused:
        partners.register_from_card(actor=None, card=card)
    assert refused.value.code == "invalid_url"
    assert not Partner.objects.filter(code="MD").exists()
    settings.HTTPS = False
    assert partners.register_from_card(actor=None, card=card).base_url == "http://md.example.org"


def test_refused_messages_are_kept_ninety_days():
    old = Rejection.objects.create(reason="bad_signature")
    Rejection.objects.filter(pk=old.pk).update(at=timezone.now() - dt.timedelta(days=91))
    recent = Rejection.objects.create(reason="too_old")
    assert prune_rejections.call() == 1
    assert list(Rejection.objects.values_list("pk", flat=True)) == [recent.pk]
