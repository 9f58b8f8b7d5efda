"""People and cases of the mechanism. Identifying data is encrypted; what statistics need is kept in clear.

Reads go through `selectors.py` (every case query starts from `visible_cases(access)`), writes through
`services.py` (one function per act, atomic, audited, with a timeline event).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency
from opennrm.cases.choices import (
    AgeGroup,
    CaseStatus,
    ClosureReason,
    ConsentBasis,
    ConsentPurpose,
    DecisionOutcome,
    EventType,
    TraffickingStatus,
    htcds_snake_choices,
)
from opennrm.core.fields import (
    EncryptedCharField,
    EncryptedDateField,
    EncryptedFileField,
    EncryptedJSONField,
    EncryptedTextField,
)
from opennrm.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class Person(BaseModel):
    """A presumed or identified victim. Identity is encrypted; blind indexes allow exact look-ups."""

    given_name = EncryptedCharField(_("given name"), max_length=200)
    family_name = EncryptedCharField(_("family name"), max_length=200, blank=True)
    other_names = EncryptedJSONField(_("other names and spellings"), default=list, blank=True)
    date_of_birth = EncryptedDateField(_("date of birth"), null=True, blank=True)
    documents = EncryptedJSONField(_("identity documents"), default=list, blank=True)
    contacts = EncryptedJSONField(_("contacts"), default=list, blank=True)
    address = EncryptedTextField(_("address"), blank=True)
    # In clear, for statistics only (no person can be picked out by these alone).
    sex = models.CharField(
        _("sex / gender"),
        max_length=32,
        choices=htcds_snake_choices("prs_Gender"),
        default="non_specified_unknown",
    )
    birth_year = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    citizenship = models.CharField(_("citizenship"), max_length=2, blank=True, help_text=_("ISO 3166-1 code"))
    other_citizenships = models.JSONField(_("other citizenships"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.public_id  # never the name: str() ends up in logs and admin history


class IdentityIndex(models.Model):
    """Blind-index entries of a person: document numbers, name + date of birth, name-token keys for fuzzy search."""

    class Kind(models.TextChoices):
        DOCUMENT = "document", _("Document number")
        NAME_DOB = "name_dob", _("Name and date of birth")
        NAME = "name", _("Full name")
        NAME_TOKEN = "name_token", _("Name sound key")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="index_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    digest = models.CharField(max_length=32)

    class Meta:
        indexes = [models.Index(fields=["kind", "digest"], name="cases_identity_lookup_idx")]
        constraints = [
            models.UniqueConstraint(fields=["person", "kind", "digest"], name="cases_identity_unique_entry")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.digest[:8]}"


class CaseCounter(models.Model):
    """The last reference number given per country and year (`GE-2026-00042`)."""

    country = models.CharField(max_length=2)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["country", "year"], name="cases_counter_unique")]

    def __str__(self) -> str:
        return f"{self.country}-{self.year}: {self.last}"


class Case(BaseModel):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    country = models.CharField(_("country"), max_length=2)
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="cases", verbose_name=_("person")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=CaseStatus.choices, default=CaseStatus.REFERRED
    )
    trafficking_status = models.CharField(
        _("trafficking status"),
        max_length=40,
        choices=TraffickingStatus.choices,
        default=TraffickingStatus.POSSIBLE,
    )
    referring_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="referred_cases", verbose_name=_("referring agency")
    )
    owning_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="owned_cases", verbose_name=_("owning agency")
    )
    case_worker = models.ForeignKey(
        USER,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("case worker"),
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="created_cases")
    first_contact_date = models.DateField(_("date of first contact"))
    region = models.CharField(_("region"), max_length=10, blank=True)
    age_at_exploitation = models.PositiveSmallIntegerField(_("age when exploited"), null=True, blank=True)
    age_group = models.CharField(
        _("age group"), max_length=8, choices=AgeGroup.choices, default=AgeGroup.UNKNOWN
    )
    is_child = models.BooleanField(_("child"), default=False)
    guardian = EncryptedTextField(_("guardian"), blank=True)
    # HTCDS victim context (multi-selects as lists of picklist values; forms of exploitation also in
    # CaseExploitation for filtering and statistics).
    forced_labour_industry = models.CharField(
        _("forced labour industry"),
        max_length=80,
        blank=True,
        choices=htcds_snake_choices("vic_ForcedLabourIndustry"),
    )
    sexual_exploitation_types = models.JSONField(_("type of sexual exploitation"), default=list, blank=True)
    methods_of_control = models.JSONField(_("methods of control"), default=list, blank=True)
    methods_of_recruitment = models.JSONField(_("methods of recruitment"), default=list, blank=True)
    relationship_to_trafficker = models.CharField(
        _("relationship to trafficker"),
        max_length=20,
        blank=True,
        choices=htcds_snake_choices("vic_RelationshipToTrafficker"),
    )
    perpetrator_roles = models.JSONField(_("perpetrator roles"), default=list, blank=True)
    narrative = EncryptedTextField(_("what happened"), blank=True)
    reflection_period_ends = models.DateField(
        _("end of recovery and reflection period"), null=True, blank=True
    )
    identified_at = models.DateTimeField(_("identified"), null=True, blank=True)
    identification_route = models.CharField(_("identification route"), max_length=40, blank=True)
    status_valid_until = models.DateField(_("status valid until"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closure_reason = models.CharField(
        _("closure reason"), max_length=32, blank=True, choices=ClosureReason.choices
    )
    follow_up_date = models.DateField(_("follow-up date"), null=True, blank=True)
    # Optimistic locking: every write checks and increments it.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="cases_created_idx"),
            models.Index(fields=["status", "-created_at"], name="cases_status_created_idx"),
            models.Index(fields=["owning_agency", "-created_at"], name="cases_owner_created_idx"),
            models.Index(fields=["region"], name="cases_region_idx"),
        ]

    def __str__(self) -> str:
        return self.reference


class CaseExploitation(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="exploitation_forms")
    form = models.CharField(
        _("form of exploitation"), max_length=48, choices=htcds_snake_choices("vic_TypeOfExploitation")
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "form"], name="cases_exploitation_unique")]
        indexes = [models.Index(fields=["form", "case"], name="cases_exploitation_form_idx")]

    def __str__(self) -> str:
        return self.form


class TraffickingEvent(BaseModel):
    """HTCDS historic trafficking event: where and when recruitment, transit or exploitation happened."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("type"), max_length=16, choices=EventType.choices)
    country = models.CharField(_("country"), max_length=2)
    place = models.CharField(_("city or region"), max_length=120, blank=True)
    date = models.DateField(_("date"), null=True, blank=True)
    details = EncryptedTextField(_("details"), blank=True)

    class Meta:
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.country}"


class Consent(BaseModel):
    """A consent (or a lawful basis instead of it) for one purpose; for referrals, for one agency."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=20, choices=ConsentPurpose.choices)
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("agency")
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        help_text=_("For sharing with another country: the country the consent is for (ISO 3166-1 code)"),
    )
    basis = models.CharField(
        _("basis"), max_length=24, choices=ConsentBasis.choices, default=ConsentBasis.CONSENT
    )
    given = models.BooleanField(_("given"))
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    justification = EncryptedTextField(_("justification"), blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["case", "purpose"], name="cases_consent_purpose_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} {'+' if self.given else '-'}"


class Screening(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="screenings")
    instrument_id = models.CharField(_("instrument"), max_length=64)
    instrument_version = models.CharField(_("instrument version"), max_length=32)
    instrument_digest = models.CharField(max_length=64)
    list_id = models.CharField(_("indicator list"), max_length=64)
    found = models.JSONField(_("indicators found"), default=list)
    result = models.JSONField(_("result"), default=dict)
    conclusion = models.CharField(_("conclusion"), max_length=20)
    screened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    notes = EncryptedTextField(_("notes"), blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.instrument_id}@{self.instrument_version}: {self.conclusion}"


class Decision(BaseModel):
    """A request for an identification decision, its statutory deadline (computed once), and its outcome."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    route = models.CharField(_("route"), max_length=40)
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested"))
    deadline_at = models.DateTimeField(_("deadline"))
    deadline_rule = models.CharField(_("deadline rule"), max_length=80)
    is_appeal = models.BooleanField(_("appeal"), default=False)
    appeal_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="appeals"
    )
    outcome = models.CharField(_("outcome"), max_length=10, blank=True, choices=DecisionOutcome.choices)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    members = models.JSONField(_("members who decided"), default=list, blank=True)
    reasons = EncryptedTextField(_("reasons"), blank=True)
    valid_until = models.DateField(_("status valid until"), null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deadline_at"]
        indexes = [models.Index(fields=["outcome", "deadline_at"], name="cases_decision_queue_idx")]
        constraints = [
            # One open request per case at a time.
            models.UniqueConstraint(fields=["case"], condition=Q(outcome=""), name="cases_one_open_decision"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.outcome or 'pending'}"


class SupportPlanItem(BaseModel):
    """HTCDS support plan: an objective, the action for it, its planned and actual end dates."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="plan_items")
    type = models.CharField(_("type"), max_length=48, choices=htcds_snake_choices("spl_Type"))
    objective = EncryptedTextField(_("objective"))
    action = EncryptedTextField(_("action"), blank=True)
    planned_end = models.DateField(_("planned end"), null=True, blank=True)
    actual_end = models.DateField(_("actual end"), null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["planned_end", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class Note(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField(_("note"))

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.public_id


class Attachment(BaseModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = EncryptedFileField(_("file"))
    original_name = EncryptedCharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.public_id


class Compensation(BaseModel):
    """The one-off state compensation of the country profile. A case can be paid once (database constraint)."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="compensation")
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    approved_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(_("approved"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    paid_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payment_reference = models.CharField(_("payment reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("compensation")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class CaseEvent(models.Model):
    """The case timeline: every act on the case, with who did it and when (no identifying values)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=48)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="cases_timeline_idx")]

    def __str__(self) -> str:
        return self.kind


class Notification(BaseModel):
    """An anonymous notification: an adult who does not consent to a referral, counted in statistics only."""

    country = models.CharField(_("country"), max_length=2)
    region = models.CharField(_("region"), max_length=10, blank=True)
    first_contact_date = models.DateField(_("date of first contact"))
    sex = models.CharField(_("sex / gender"), max_length=32, choices=htcds_snake_choices("prs_Gender"))
    age_group = models.CharField(
        _("age group"), max_length=8, choices=AgeGroup.choices, default=AgeGroup.UNKNOWN
    )
    citizenship = models.CharField(_("citizenship"), max_length=2, blank=True)
    exploitation_forms = models.JSONField(_("forms of exploitation"), default=list, blank=True)
    exploitation_country = models.CharField(_("country of exploitation"), max_length=2, blank=True)
    referring_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("anonymous notification")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.public_id
