"""Labour inspections and the screening of workers on site.

An inspection names its workplace by an encrypted employer name and identifiers; what statistics need (sector,
region, date, counts) is kept in clear. A worker is screened under a pseudonym ("W-7K3Q"): a screening holds no
name, no document and no contact. A worker is identified only when referred into the mechanism with consent (or,
for a child, in their best interests), and then only in the case that the referral creates (`cases.Person`).

Reads go through `selectors.py` (every query starts from `visible_inspections(access)`), writes through
`services.py` (one function per act, atomic, audited).
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency
from opennrm.cases.choices import AgeGroup, htcds_snake_choices
from opennrm.cases.screening import Population
from opennrm.core.fields import EncryptedCharField, EncryptedJSONField, EncryptedTextField
from opennrm.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class ScreeningStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    COMPLETED = "completed", _("Completed")
    REFERRED = "referred", _("Referred into the mechanism")
    NOTIFIED = "notified", _("Anonymous notification filed")


class EmployerIdentifier(models.TextChoices):
    TAX_ID = "tax_id", _("Tax identification number")
    REGISTRATION = "registration", _("Company registration number")
    OTHER = "other", _("Other identifier")


class Inspection(BaseModel):
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="inspections", verbose_name=_("inspecting agency")
    )
    inspectors: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        USER, related_name="inspections", verbose_name=_("inspectors")
    )
    employer_name = EncryptedCharField(_("employer"), max_length=200)
    # [{"type": EmployerIdentifier value, "value": "..."}]
    employer_identifiers = EncryptedJSONField(_("employer identifiers"), default=list, blank=True)
    sector = models.CharField(
        _("sector"), max_length=80, choices=htcds_snake_choices("vic_ForcedLabourIndustry")
    )
    region = models.CharField(_("region"), max_length=10)
    date = models.DateField(_("date of the inspection"))
    joint_with_police = models.BooleanField(_("joint inspection with the police"), default=False)
    workers_present = models.PositiveIntegerField(_("workers present"))
    workers_interviewed = models.PositiveIntegerField(_("workers interviewed"))
    findings = EncryptedTextField(_("findings"), blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    # Optimistic locking: every edit checks and increments it.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("labour inspection")
        verbose_name_plural = _("labour inspections")
        ordering = ["-date", "-created_at"]
        indexes = [
            models.Index(fields=["agency", "-date"], name="inspections_agency_date_idx"),
            models.Index(fields=["date"], name="inspections_date_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(workers_interviewed__lte=F("workers_present")),
                name="inspections_interviewed_not_above_present",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id  # never the employer: str() ends up in logs

    @property
    def identifiers(self) -> list[dict[str, str]]:
        """The employer identifiers (decrypted: read them only where the read is audited)."""
        return cast(list[dict[str, str]], self.employer_identifiers or [])


class WorkerScreening(BaseModel):
    """One worker screened at an inspection, under a pseudonym. Saved as a draft at every change; the result
    and the conclusion are those of `cases.screening.evaluate` for the indicators found, computed by the
    services at every save."""

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="screenings")
    pseudonym = models.CharField(_("pseudonym"), max_length=12)
    # What the list choice and the statistics need, in clear: never a name, a document or a contact.
    age = models.PositiveSmallIntegerField(_("age (estimate)"), null=True, blank=True)
    age_group = models.CharField(
        _("age group"), max_length=8, choices=AgeGroup.choices, default=AgeGroup.UNKNOWN
    )
    sex = models.CharField(
        _("sex / gender"),
        max_length=32,
        choices=htcds_snake_choices("prs_Gender"),
        default="non_specified_unknown",
    )
    citizenship = models.CharField(_("citizenship"), max_length=2, blank=True)
    instrument_id = models.CharField(_("instrument"), max_length=64)
    instrument_version = models.CharField(_("instrument version"), max_length=32)
    instrument_digest = models.CharField(max_length=64)
    list_id = models.CharField(_("indicator list"), max_length=64)
    population = models.CharField(_("list for"), max_length=8, choices=Population.choices)
    found = models.JSONField(_("indicators found"), default=list, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    conclusion = models.CharField(_("conclusion"), max_length=20)
    status = models.CharField(
        _("status"), max_length=12, choices=ScreeningStatus.choices, default=ScreeningStatus.DRAFT
    )
    consent_to_referral = models.BooleanField(_("consents to a referral"), null=True, blank=True)
    case = models.ForeignKey(
        "cases.Case",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="worker_screenings",
        verbose_name=_("case"),
    )
    notification = models.ForeignKey(
        "cases.Notification",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="worker_screenings",
        verbose_name=_("anonymous notification"),
    )
    screened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    referred_at = models.DateTimeField(_("referred"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("worker screening")
        verbose_name_plural = _("worker screenings")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "conclusion"], name="inspections_screening_stat_idx")]
        constraints = [
            models.UniqueConstraint(fields=["inspection", "pseudonym"], name="inspections_unique_pseudonym"),
            models.CheckConstraint(
                condition=~Q(status="referred") | Q(case__isnull=False), name="inspections_referred_has_case"
            ),
            models.CheckConstraint(
                condition=~Q(status="notified") | Q(notification__isnull=False),
                name="inspections_notified_has_notification",
            ),
        ]

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def is_open(self) -> bool:
        """Still being filled: indicators can be changed."""
        return self.status == ScreeningStatus.DRAFT

    @property
    def is_child(self) -> bool:
        """A child for the mechanism: under 18 by the estimate, or screened with a list for children."""
        if self.age is not None:
            return self.age < 18
        return self.population == Population.CHILD
