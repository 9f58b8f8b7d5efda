"""Shelters, their places by category, and the placements of cases in them.

A shelter's address is encrypted and read only through `selectors.read_address` (its staff and coordinators,
every read audited). A placement starts from an accepted shelter referral to the shelter's agency; its stay limit
and the latest date an extension may reach are computed once, at admission, from the country profile, and
stored. Reads go through `selectors.py`, writes through `services.py` (one function per act, atomic, audited).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency
from opennrm.cases.models import Case
from opennrm.core.fields import EncryptedTextField
from opennrm.core.models import BaseModel
from opennrm.referrals.models import Referral

USER = settings.AUTH_USER_MODEL


class Category(models.TextChoices):
    """Who a place is for. Capacity is counted per category."""

    WOMEN = "women", _("Women")
    MEN = "men", _("Men")
    CHILDREN = "children", _("Children")
    FAMILIES = "families", _("Families")


class DischargeReason(models.TextChoices):
    COMPLETED = "completed", _("Stay completed")
    MOVED_TO_OWN_HOUSING = "moved_to_own_housing", _("Moved to own housing")
    RETURNED_HOME = "returned_home", _("Returned home")
    TRANSFERRED = "transferred", _("Transferred to another shelter")
    LEFT_VOLUNTARILY = "left_voluntarily", _("Left voluntarily")
    RULE_VIOLATION = "rule_violation", _("Rule violation")
    OTHER = "other", _("Other")


CAPACITY_FIELDS = {
    Category.WOMEN: "capacity_women",
    Category.MEN: "capacity_men",
    Category.CHILDREN: "capacity_children",
    Category.FAMILIES: "capacity_families",
}


class Shelter(BaseModel):
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="shelters", verbose_name=_("operating agency")
    )
    name = models.CharField(_("name"), max_length=200)
    region = models.CharField(_("region"), max_length=10)
    # Life-critical: encrypted, shown only to the shelter's staff and to coordinators, every read audited.
    address = EncryptedTextField(_("confidential address"), blank=True)
    capacity_women = models.PositiveSmallIntegerField(_("places for women"), default=0)
    capacity_men = models.PositiveSmallIntegerField(_("places for men"), default=0)
    capacity_children = models.PositiveSmallIntegerField(_("places for children"), default=0)
    capacity_families = models.PositiveSmallIntegerField(_("places for families"), default=0)
    wheelchair_accessible = models.BooleanField(_("wheelchair access"), default=False)
    accessibility_notes = models.TextField(_("accessibility notes"), max_length=1000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("shelter")
        verbose_name_plural = _("shelters")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="shelters_unique_name_per_agency"),
            models.CheckConstraint(
                condition=Q(capacity_women__gte=0)
                & Q(capacity_men__gte=0)
                & Q(capacity_children__gte=0)
                & Q(capacity_families__gte=0),
                name="shelters_capacity_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def capacity(self, category: str) -> int:
        return int(getattr(self, CAPACITY_FIELDS[Category(category)]))

    @property
    def capacities(self) -> dict[str, int]:
        return {category.value: self.capacity(category) for category in Category}

    @property
    def total_capacity(self) -> int:
        return sum(self.capacities.values())


class Placement(BaseModel):
    """One stay of a case in one shelter, from admission to discharge (or transfer)."""

    shelter = models.ForeignKey(
        Shelter, on_delete=models.PROTECT, related_name="placements", verbose_name=_("shelter")
    )
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="shelter_placements", verbose_name=_("case")
    )
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, related_name="placements", verbose_name=_("referral")
    )
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    admitted_at = models.DateTimeField(_("admitted"))
    admitted_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    # Computed once at admission from the country profile (null: the profile sets no limit).
    stay_limit = models.DateField(_("stay limit"), null=True, blank=True)
    stay_maximum = models.DateField(_("latest possible extension"), null=True, blank=True)
    stay_rule = models.CharField(_("stay rule"), max_length=80, blank=True)
    extended_until = models.DateField(_("extended until"), null=True, blank=True)
    discharged_at = models.DateTimeField(_("discharged"), null=True, blank=True)
    discharged_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    discharge_reason = models.CharField(
        _("reason for leaving"), max_length=24, blank=True, choices=DischargeReason.choices
    )
    discharge_note = EncryptedTextField(_("note on leaving"), blank=True)
    transferred_to = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transferred_from",
        verbose_name=_("transferred to"),
    )
    over_capacity_accepted_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    over_capacity_accepted_at = models.DateTimeField(_("accepted over capacity"), null=True, blank=True)
    over_capacity_reason = EncryptedTextField(_("why over capacity"), blank=True)
    stay_alert_sent_at = models.DateTimeField(null=True, blank=True)
    # Optimistic locking: every write checks and increments it.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("placement")
        verbose_name_plural = _("placements")
        ordering = ["-admitted_at"]
        indexes = [
            models.Index(fields=["shelter", "discharged_at"], name="shelters_placement_current_idx"),
            models.Index(fields=["admitted_at", "discharged_at"], name="shelters_placement_period_idx"),
        ]
        constraints = [
            # A person is in one shelter at a time.
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(discharged_at__isnull=True),
                name="shelters_one_current_placement",
            ),
            models.CheckConstraint(
                condition=Q(discharged_at__isnull=True) | Q(discharged_at__gte=F("admitted_at")),
                name="shelters_discharge_after_admission",
            ),
            # Discharged with a reason, or not discharged and no reason.
            models.CheckConstraint(
                condition=(Q(discharged_at__isnull=True) & Q(discharge_reason=""))
                | (Q(discharged_at__isnull=False) & ~Q(discharge_reason="")),
                name="shelters_discharge_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="shelters_placement_known_category"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_current(self) -> bool:
        return self.discharged_at is None

    @property
    def current_limit(self) -> dt.date | None:
        """The date the stay must end by now: the extension if one was granted, else the limit at admission."""
        return self.extended_until or self.stay_limit

    @property
    def was_over_capacity(self) -> bool:
        return self.over_capacity_accepted_at is not None


class ExtensionDecision(BaseModel):
    """A coordinator's decision on extending a stay: granted (to a date) or refused, with the reasons."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="extension_decisions")
    granted = models.BooleanField(_("granted"))
    previous_until = models.DateField(_("limit before the decision"), null=True, blank=True)
    new_until = models.DateField(_("new limit"), null=True, blank=True)
    reason = EncryptedTextField(_("reasons"))
    decided_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("extension decision")
        verbose_name_plural = _("extension decisions")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(granted=False) | Q(new_until__isnull=False), name="shelters_granted_has_date"
            )
        ]

    def __str__(self) -> str:
        return self.public_id
