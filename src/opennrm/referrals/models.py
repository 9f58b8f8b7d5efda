"""Service catalogue, referrals of a case to an agency for a service (behind a consent gate), deliveries."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency, AgencyKind
from opennrm.cases.choices import ConsentBasis
from opennrm.cases.models import Case, Consent
from opennrm.core.fields import EncryptedTextField
from opennrm.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class ServiceCategory(models.TextChoices):
    SHELTER = "shelter", _("Shelter")
    MEDICAL = "medical", _("Medical care")
    PSYCHOLOGICAL = "psychological", _("Psychological support")
    LEGAL_AID = "legal_aid", _("Legal aid")
    INTERPRETATION = "interpretation", _("Interpretation")
    EDUCATION = "education", _("Education and vocational training")
    FINANCIAL = "financial", _("Financial assistance")
    RETURN = "return_reintegration", _("Return and reintegration")
    EMPLOYMENT = "employment", _("Employment support")
    CHILD_PROTECTION = "child_protection", _("Child protection")
    OTHER = "other", _("Other")


# What a provider may be shown, by name: person fields (identity ones are read through
# `opennrm.cases.services.read_identity`, which audits the read) and case fields. `ServiceType.needs` picks from
# these; nothing else of the person or the case ever reaches a provider.
PERSON_FIELDS = (
    "given_name",
    "family_name",
    "other_names",
    "date_of_birth",
    "documents",
    "contacts",
    "address",
    "sex",
    "birth_year",
    "citizenship",
    "other_citizenships",
    "languages",
)
CASE_FIELDS = ("age_group", "is_child", "guardian", "narrative", "exploitation_forms")
PROVIDER_FIELDS = PERSON_FIELDS + CASE_FIELDS


class ServiceType(BaseModel):
    """A service of the country's catalogue (loaded from `catalogue.yaml`), and what case data it needs."""

    country = models.CharField(_("country"), max_length=2)
    code = models.CharField(_("code"), max_length=48)
    category = models.CharField(_("category"), max_length=32, choices=ServiceCategory.choices)
    names = models.JSONField(_("names"), default=dict, help_text=_("Name per language code"))
    # Person and case fields a provider of this service may read (names from PROVIDER_FIELDS).
    needs = models.JSONField(_("data the provider needs"), default=list, blank=True)
    # Kinds of agency that can provide the service (AgencyKind values); empty: any kind.
    provider_kinds = models.JSONField(
        _("kinds of agency that provide it"),
        default=list,
        blank=True,
        help_text=_("Empty: any kind of agency"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["category", "code"]
        constraints = [
            models.UniqueConstraint(fields=["country", "code"], name="referrals_service_unique_code")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_in(get_language() or "en")

    def name_in(self, language: str) -> str:
        language = (language or "en").split("-")[0]
        return str(self.names.get(language) or self.names.get("en") or self.code)

    def can_be_provided_by(self, agency: Agency) -> bool:
        return not self.provider_kinds or agency.kind in self.provider_kinds

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not isinstance(self.needs, list) or any(n not in PROVIDER_FIELDS for n in self.needs):
            errors["needs"] = _("Use a list of these field names: %(names)s") % {
                "names": ", ".join(PROVIDER_FIELDS)
            }
        if not isinstance(self.provider_kinds, list) or any(
            k not in AgencyKind.values for k in self.provider_kinds
        ):
            errors["provider_kinds"] = _("Use a list of these agency kinds: %(kinds)s") % {
                "kinds": ", ".join(AgencyKind.values)
            }
        if not isinstance(self.names, dict) or not self.names.get("en"):
            errors["names"] = _('Give at least the English name, as {"en": "..."}.')
        if errors:
            raise ValidationError(errors)


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    COMPLETED = "completed", _("Completed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


ACTIVE_STATUSES = (ReferralStatus.PENDING, ReferralStatus.ACCEPTED)


class Referral(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="service_referrals")
    service = models.ForeignKey(
        ServiceType, on_delete=models.PROTECT, related_name="referrals", verbose_name=_("service")
    )
    from_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="referrals_sent")
    to_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="referrals_received", verbose_name=_("to agency")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    reason = EncryptedTextField(_("what is needed"), blank=True)
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Set only when the referral went ahead without the person's consent, on a lawful basis (audited).
    override_basis = models.CharField(
        _("basis without consent"), max_length=24, blank=True, choices=ConsentBasis.choices
    )
    override_justification = EncryptedTextField(_("justification"), blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    responded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    responded_at = models.DateTimeField(_("responded"), null=True, blank=True)
    decline_reason = EncryptedTextField(_("reason for declining"), blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["to_agency", "status"], name="referrals_inbox_idx")]
        constraints = [
            # A referral rests on a consent or on a lawful basis, never on neither.
            models.CheckConstraint(
                condition=Q(consent__isnull=False) | ~Q(override_basis=""), name="referrals_consent_or_basis"
            ),
            # One open referral per case, service and agency.
            models.UniqueConstraint(
                fields=["case", "service", "to_agency"],
                condition=Q(status__in=["pending", "accepted"]),
                name="referrals_one_open_per_service_agency",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class ServiceDelivery(BaseModel):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="deliveries")
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to"), null=True, blank=True)
    description = EncryptedTextField(_("what was provided"), blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("service delivery")
        verbose_name_plural = _("service deliveries")
        ordering = ["start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="referrals_delivery_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.public_id
