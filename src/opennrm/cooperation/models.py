"""Cross-border cooperation (DESIGN §5): partner instances and their keys, the transactional outbox, the idempotent
inbox, transnational referrals, record-linkage queries and the regional hub's statistics submissions.

Each country keeps its own instance and data; these tables hold only what crossed (or will cross) the border.
Every payload that can carry personal data is encrypted at rest like the rest of the instance."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opennrm.core.fields import EncryptedJSONField, EncryptedTextField
from opennrm.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")


class Partner(BaseModel):
    """Another OpenNRM instance this one cooperates with, registered by an administrator."""

    code = models.CharField(
        _("partner code"), max_length=16, unique=True, help_text=_("The partner instance's identity, e.g. UA")
    )
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2 code"))
    name = models.CharField(_("name"), max_length=200)
    base_url = models.URLField(
        _("address"), help_text=_("Where this instance delivers messages to the partner")
    )
    is_hub = models.BooleanField(_("regional hub"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("partner instance")
        verbose_name_plural = _("partner instances")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.status == PartnerStatus.ACTIVE


class KeyPurpose(models.TextChoices):
    SIGNING = "signing", _("Signing (Ed25519)")
    ENCRYPTION = "encryption", _("Encryption (X25519)")


class PartnerKey(BaseModel):
    """A public key of a partner. Several may be valid at once while a partner rotates its keys."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="keys")
    purpose = models.CharField(_("purpose"), max_length=12, choices=KeyPurpose.choices)
    key_id = models.CharField(_("key id"), max_length=32)
    public_key = models.CharField(
        _("public key"), max_length=64, help_text=_("Base64 of the raw 32-byte key")
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("partner key")
        verbose_name_plural = _("partner keys")
        ordering = ["partner", "purpose", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "purpose", "key_id"], name="coop_partner_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.partner.code} {self.purpose} {self.key_id}"


class MessageType(models.TextChoices):
    REFERRAL = "referral", _("Transnational referral")
    REFERRAL_RESPONSE = "referral_response", _("Referral accepted or declined")
    REFERRAL_UPDATE = "referral_update", _("Referral status update")
    LINKAGE_QUERY = "linkage_query", _("Record-linkage query")
    LINKAGE_RESULT = "linkage_result", _("Record-linkage result")
    STATS_SUBMISSION = "stats_submission", _("Statistics submission")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be delivered")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed: gave up")


class OutboxMessage(BaseModel):
    """A message to a partner, written in the same transaction as the change that causes it."""

    message_id = models.UUIDField(_("message id"), unique=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="outbox", verbose_name=_("partner")
    )
    type = models.CharField(_("type"), max_length=24, choices=MessageType.choices)
    payload = EncryptedJSONField(_("payload"), default=dict)
    subject = models.CharField(
        _("about"), max_length=64, blank=True, help_text=_("A reference, never a name")
    )
    status = models.CharField(
        _("delivery status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outgoing messages")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="coop_outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.type} → {self.partner.code} ({self.status})"


class InboxMessage(BaseModel):
    """A message accepted from a partner. The unique message id makes delivery idempotent."""

    message_id = models.UUIDField(_("message id"), unique=True)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="inbox", verbose_name=_("partner")
    )
    type = models.CharField(_("type"), max_length=24, choices=MessageType.choices)
    sent_at = models.DateTimeField(_("sent"))
    payload = EncryptedJSONField(_("payload"), default=dict)

    class Meta:
        verbose_name = _("incoming message")
        verbose_name_plural = _("incoming messages")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} ← {self.partner.code}"


class Rejection(models.Model):
    """A message refused at the door, with the reason. Nothing else was changed by it."""

    at = models.DateTimeField(_("at"), auto_now_add=True)
    claimed_sender = models.CharField(_("claimed sender"), max_length=32, blank=True)
    claimed_message_id = models.CharField(_("claimed message id"), max_length=64, blank=True)
    claimed_type = models.CharField(_("claimed type"), max_length=32, blank=True)
    reason = models.CharField(_("reason"), max_length=32)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    remote_addr = models.CharField(_("remote address"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("refused message")
        verbose_name_plural = _("refused messages")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.reason} {self.claimed_sender}"


# --- transnational referrals ------------------------------------------------------------------------


class Direction(models.TextChoices):
    OUTGOING = "outgoing", _("Sent to a partner")
    INCOMING = "incoming", _("Received from a partner")


class TransnationalStatus(models.TextChoices):
    SENT = "sent", _("Sent, awaiting an answer")
    RECEIVED = "received", _("Received, awaiting a decision")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")


class TransnationalReferral(BaseModel):
    """One referral of a person across a border. The same `referral_id` names it on both instances."""

    referral_id = models.UUIDField(_("referral id"), default=uuid.uuid4, editable=False)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="referrals", verbose_name=_("partner")
    )
    case = models.ForeignKey(
        "cases.Case",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transnational_referrals",
        verbose_name=_("case"),
        help_text=_("Outgoing: the case referred. Incoming: the local case opened on acceptance."),
    )
    remote_reference = models.CharField(_("partner's case reference"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=TransnationalStatus.choices)
    services = models.JSONField(_("services needed"), default=list, blank=True)
    payload = EncryptedJSONField(_("what crossed the border"), default=dict)
    decline_reason = EncryptedTextField(_("reason for declining"), blank=True)
    sent_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    responded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    responded_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("transnational referral")
        verbose_name_plural = _("transnational referrals")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["referral_id", "direction"], name="coop_referral_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.partner.code} {self.status}"


class UpdateKind(models.TextChoices):
    ARRIVAL = "arrival", _("The person arrived")
    SERVICES_ARRANGED = "services_arranged", _("Services arranged")
    RETURN_DATE = "return_date", _("Return date set")
    CLOSED = "closed", _("Assistance ended")


class TransnationalUpdate(BaseModel):
    """A status update on a transnational referral, sent or received."""

    referral = models.ForeignKey(TransnationalReferral, on_delete=models.CASCADE, related_name="updates")
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    kind = models.CharField(_("update"), max_length=20, choices=UpdateKind.choices)
    date = models.DateField(_("date"), null=True, blank=True)
    note = EncryptedTextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("transnational referral update")
        verbose_name_plural = _("transnational referral updates")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.kind


# --- record linkage ---------------------------------------------------------------------------------


class LinkageEncoding(models.Model):
    """The keyed Bloom-filter encoding of a person (name, date of birth, sex), for privacy-preserving linkage.
    Never the name; rebuilt when the identity or the shared secret changes."""

    person = models.OneToOneField("cases.Person", on_delete=models.CASCADE, related_name="linkage_encoding")
    bits = models.BinaryField()
    block = models.CharField(max_length=32, blank=True)
    secret_id = models.CharField(max_length=16, help_text="Fingerprint of the shared secret used")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["block"], name="coop_linkage_block_idx")]

    def __str__(self) -> str:
        return f"encoding {self.secret_id}"


class LinkageQueryStatus(models.TextChoices):
    SENT = "sent", _("Sent, awaiting the answer")
    ANSWERED = "answered", pgettext_lazy("status", "Answered")


class LinkageQuery(BaseModel):
    """A question to a partner: is this person already known to you? Sent as an encoding, answered with scores."""

    query_id = models.UUIDField(_("query id"), default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("partner")
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="linkage_queries", verbose_name=_("case")
    )
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=10, choices=LinkageQueryStatus.choices, default=LinkageQueryStatus.SENT
    )
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("record-linkage query")
        verbose_name_plural = _("record-linkage queries")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.partner.code} {self.status}"


class LinkageCandidate(models.Model):
    """A candidate match returned by a partner: its case reference and a similarity score, never a name."""

    query = models.ForeignKey(LinkageQuery, on_delete=models.CASCADE, related_name="candidates")
    remote_reference = models.CharField(_("partner's case reference"), max_length=32)
    score = models.FloatField(_("similarity"))

    class Meta:
        ordering = ["-score"]

    def __str__(self) -> str:
        return f"{self.remote_reference} {self.score:.2f}"


# --- regional hub -----------------------------------------------------------------------------------


class HubSubmission(BaseModel):
    """Privacy-safe aggregates a partner submitted to this instance acting as the regional hub. A later
    submission for the same partner and period replaces the earlier one (kept with a higher version)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="submissions")
    period = models.CharField(_("period"), max_length=16, help_text=_("e.g. 2026 or 2026-Q3"))
    version = models.PositiveIntegerField(default=1)
    method = models.JSONField(_("disclosure control"), default=dict)
    data = models.JSONField(_("aggregates"), default=dict)
    message_id = models.UUIDField(unique=True)

    class Meta:
        verbose_name = _("statistics submission")
        verbose_name_plural = _("statistics submissions")
        ordering = ["partner", "period", "-version"]

    def __str__(self) -> str:
        return f"{self.partner.code} {self.period} v{self.version}"
