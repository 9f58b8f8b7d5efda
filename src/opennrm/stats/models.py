"""Models of the statistics app that hold data: import jobs (HTCDS 2.0 and CTDC layouts), their row-level reports,
the ledger that makes an import idempotent, and the statistics-only records that CTDC imports create.

The uploaded file of an import is encrypted at rest like an attachment (it may identify people) and removed once
the import has run to the end; the report never holds a name, a date of birth or any free text from the file.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency
from opennrm.cases.choices import AgeGroup, htcds_snake_choices
from opennrm.cases.models import Case
from opennrm.core.fields import EncryptedCharField, EncryptedFileField
from opennrm.core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class ImportKind(models.TextChoices):
    HTCDS = "htcds", _("HTCDS 2.0: identified cases")
    CTDC = "ctdc", _("CTDC layout: statistics only, no identity")


class ImportFormat(models.TextChoices):
    CSV = "csv", _("CSV")
    JSON = "json", _("JSON (one object per line, or a list)")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Running")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Stopped by an error")


class IssueSeverity(models.TextChoices):
    ERROR = "error", _("Not saved")
    WARNING = "warning", _("Warning")
    SKIPPED = "skipped", _("Already imported")


class ImportJob(BaseModel):
    """One uploaded file and its import, run in the background (`stats.tasks.run_import`)."""

    kind = models.CharField(_("kind"), max_length=8, choices=ImportKind.choices)
    file_format = models.CharField(_("format"), max_length=8, choices=ImportFormat.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("agency"),
        help_text=_(
            "HTCDS: the agency that owns the imported cases. CTDC: the agency the statistics are counted for."
        ),
    )
    created_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    file = EncryptedFileField(_("file"), blank=True)
    file_name = EncryptedCharField(_("file name"), max_length=255, blank=True)
    # Keyed HMAC of the file's bytes (the blind-index key): recognises the same file again, confirms nothing.
    file_digest = models.CharField(max_length=64)
    keep_references = models.BooleanField(
        _("keep case references"),
        default=False,
        help_text=_(
            "HTCDS: keep each record id as the case reference when it is a free reference of this country "
            "(moving cases from another OpenNRM instance)."
        ),
    )
    total_rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    done_rows = models.PositiveIntegerField(_("rows read"), default=0)
    saved_rows = models.PositiveIntegerField(_("rows saved"), default=0)
    skipped_rows = models.PositiveIntegerField(_("rows already imported"), default=0)
    failed_rows = models.PositiveIntegerField(_("rows not saved"), default=0)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    failure = models.CharField(_("failure"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["agency", "-created_at"], name="stats_import_agency_idx")]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.done_rows / self.total_rows))


class ImportIssue(models.Model):
    """One line of an import's report: where (row, field), what was wrong (code), and the offending value only
    when it cannot identify anyone (a picklist code, a country code, a number, a date other than a birth date)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    row = models.PositiveIntegerField(_("row"), help_text=_("0: the file as a whole"))
    field = models.CharField(_("field"), max_length=100, blank=True)
    severity = models.CharField(_("severity"), max_length=8, choices=IssueSeverity.choices)
    code = models.CharField(_("problem"), max_length=40)
    value = models.CharField(_("value"), max_length=100, blank=True)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="stats_issue_job_row_idx")]

    def __str__(self) -> str:
        return f"{self.row}:{self.field}:{self.code}"

    @property
    def message(self) -> str:
        from opennrm.stats.imports import issue_message

        return issue_message(self.code, self.params)


class ImportedStatisticRecord(BaseModel):
    """A victim counted in statistics from a CTDC-layout import: no identity, no case, no link to a person.

    Not an anonymous `Notification`: those are adults who refused a referral in this mechanism, while CTDC rows
    are any victims (children and identified victims too) recorded elsewhere, known only by year of registration.
    The main statistics fields are in OpenNRM's vocabulary (as on cases); `ctdc` keeps the row as imported, in
    the CTDC layout, so that a CTDC export gives it back unchanged."""

    job = models.ForeignKey(ImportJob, on_delete=models.PROTECT, related_name="statistics")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+", verbose_name=_("agency"))
    year_of_registration = models.PositiveSmallIntegerField(_("year of registration"))
    sex = models.CharField(
        _("sex / gender"),
        max_length=32,
        choices=htcds_snake_choices("prs_Gender"),
        default="non_specified_unknown",
    )
    age_group = models.CharField(
        _("age group"), max_length=8, choices=AgeGroup.choices, default=AgeGroup.UNKNOWN
    )
    is_child = models.BooleanField(_("child"), null=True, blank=True)
    citizenship = models.CharField(_("citizenship"), max_length=2, blank=True)
    exploitation_country = models.CharField(_("country of exploitation"), max_length=2, blank=True)
    exploitation_forms = models.JSONField(_("forms of exploitation"), default=list, blank=True)
    ctdc = models.JSONField(_("CTDC row"), default=dict)

    class Meta:
        verbose_name = _("imported statistics record")
        verbose_name_plural = _("imported statistics records")
        ordering = ["year_of_registration", "id"]
        indexes = [models.Index(fields=["year_of_registration"], name="stats_imported_year_idx")]

    def __str__(self) -> str:
        return self.public_id


class ImportedRow(models.Model):
    """The idempotency ledger: one line per row that an import saved, under a key that recognises the row again.

    Keys (unique per kind and agency): `id:<record id>` when the file carries a record id (HTCDS `cas_Id`);
    otherwise, for HTCDS, `content:<keyed digest of the row's values>#<n-th such row in the file>` (a corrected
    file uploaded again does not duplicate its good rows); for CTDC, `row:<file digest>:<row number>` (identical
    statistics rows are normal, so content cannot tell them apart)."""

    job = models.ForeignKey(ImportJob, on_delete=models.PROTECT, related_name="imported_rows")
    kind = models.CharField(max_length=8, choices=ImportKind.choices)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=160)
    row = models.PositiveIntegerField()
    case = models.ForeignKey(Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    statistic = models.ForeignKey(
        ImportedStatisticRecord, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "agency", "key"], name="stats_imported_row_unique_key"),
            models.CheckConstraint(
                condition=Q(case__isnull=True) | Q(statistic__isnull=True),
                name="stats_imported_row_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.row}"


# Public releases (owned by the release module) are defined in their own module; importing them here registers
# them with the stats app whenever its models load, so that migrations and the admin always see them.
from opennrm.stats.release_models import Release, ReleaseFile  # noqa: E402

__all__ = [
    "ImportFormat",
    "ImportIssue",
    "ImportJob",
    "ImportKind",
    "ImportStatus",
    "ImportedRow",
    "ImportedStatisticRecord",
    "IssueSeverity",
    "Release",
    "ReleaseFile",
]
