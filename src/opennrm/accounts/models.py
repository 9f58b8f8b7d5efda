from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.roles import Perm, Role, Scope, permissions_for
from opennrm.core.fields import EncryptedTextField
from opennrm.core.models import BaseModel, PublicIdModel

if TYPE_CHECKING:
    from datetime import datetime


class AgencyKind(models.TextChoices):
    MINISTRY = "ministry", _("Ministry")
    LAW_ENFORCEMENT = "law_enforcement", _("Law enforcement")
    PROSECUTION = "prosecution", _("Prosecution")
    LABOUR_INSPECTION = "labour_inspection", _("Labour inspection")
    STATE_FUND = "state_fund", _("State fund")
    SHELTER = "shelter", _("Shelter")
    NGO = "ngo", _("Non-governmental organisation")
    INTERNATIONAL = "international_organisation", _("International organisation")
    HEALTH = "health", _("Health service")
    LEGAL_AID = "legal_aid", _("Legal aid")
    HOTLINE = "hotline", _("Hotline")
    CONSULATE = "consulate", _("Consulate")
    IDENTIFICATION_AUTHORITY = "identification_authority", _("Identification authority")


class Agency(BaseModel):
    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    kind = models.CharField(_("kind"), max_length=40, choices=AgencyKind.choices)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2 code"))
    region = models.CharField(_("region"), max_length=10, blank=True, help_text=_("ISO 3166-2 code"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["country", "name"], name="agency_unique_name_per_country")
        ]

    def __str__(self) -> str:
        return self.name


class User(PublicIdModel, AbstractUser):
    """A staff account. Every account logs in with a password and a TOTP code."""

    # Bumped by "log out everywhere": a session carries the epoch it was opened in and dies when it changes.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)
    preferred_language = models.CharField(_("preferred language"), max_length=8, blank=True)

    objects: UserManager[User] = UserManager()  # type: ignore[misc,assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def active_memberships(self, at: datetime | None = None) -> QuerySet[Membership]:
        return Membership.objects.active(at).filter(user=self).select_related("agency")

    def has_perm_anywhere(self, perm: Perm) -> bool:
        return perm in permissions_for({m.role for m in self.active_memberships()})


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self, at: datetime | None = None) -> MembershipQuerySet:
        at = at or timezone.now()
        return self.filter(
            Q(valid_from__lte=at),
            Q(expires_at__isnull=True) | Q(expires_at__gt=at),
            revoked_at__isnull=True,
            agency__is_active=True,
            user__is_active=True,
        )


class Membership(BaseModel):
    """A user's role in one agency, with a scope and an expiry. Expired or revoked memberships grant nothing."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("agency")
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices, default=Scope.AGENCY)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["agency__name", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agency", "role"], name="membership_unique_role_per_agency"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("valid_from")),
                name="membership_expires_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.agency}"

    @property
    def permissions(self) -> frozenset[Perm]:
        return permissions_for({self.role})


class TOTPDevice(BaseModel):
    """The user's authenticator. The shared secret is encrypted at rest like any identifying datum."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = EncryptedTextField(_("secret"))
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    # The last time-step accepted: a code can be used once (no replay inside its 30-second window).
    last_used_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("authenticator")
        verbose_name_plural = _("authenticators")


class LoginFailure(models.Model):
    """A failed password or code, for throttling. Keyed by a hash of the user name (never the name itself)."""

    username_digest = models.CharField(max_length=64, db_index=True)
    address = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    stage = models.CharField(max_length=16)

    class Meta:
        verbose_name = _("failed login")
        verbose_name_plural = _("failed logins")

    def __str__(self) -> str:
        return f"{self.stage} failure at {self.at:%Y-%m-%d %H:%M}"


class ApiToken(BaseModel):
    """A personal API token. Only a SHA-256 hash of the secret part is stored; the token is shown once."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
