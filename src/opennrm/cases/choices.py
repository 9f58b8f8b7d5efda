"""Choices of the cases app. HTCDS picklists keep their meaning and their order; stored values are the HTCDS
value names in lower snake case (`ForcedLabour` -> `forced_labour`), and `to_htcds` gives the name back for
exports."""

from __future__ import annotations

import functools
import re

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from opennrm.core.reference import htcds_choices

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(htcds_value: str) -> str:
    return _BOUNDARY.sub("_", htcds_value.strip()).lower()


@functools.cache
def htcds_snake_choices(picklist: str) -> tuple[tuple[str, str | Promise], ...]:
    return tuple((snake(value), label) for value, label in htcds_choices(picklist))


@functools.cache
def _reverse(picklist: str) -> dict[str, str]:
    return {snake(value): value.strip() for value, _label in htcds_choices(picklist)}


def to_htcds(picklist: str, value: str) -> str:
    return _reverse(picklist)[value]


def from_htcds(picklist: str, htcds_value: str) -> str:
    """The stored value for an HTCDS value name; KeyError if the picklist does not have it."""
    value = snake(htcds_value)
    if value not in _reverse(picklist):
        raise KeyError(htcds_value)
    return value


def is_valid(picklist: str, value: str) -> bool:
    return value in _reverse(picklist)


class AgeGroup(models.TextChoices):
    """CTDC's broad age bins (ageBroad), so statistics and exports share one grouping."""

    A0_8 = "0-8", "0–8"
    A9_17 = "9-17", "9–17"
    A18_20 = "18-20", "18–20"
    A21_23 = "21-23", "21–23"
    A24_26 = "24-26", "24–26"
    A27_29 = "27-29", "27–29"
    A30_38 = "30-38", "30–38"
    A39_47 = "39-47", "39–47"
    A48 = "48+", "48+"
    UNKNOWN = "unknown", _("Unknown")


_BINS = [
    (8, AgeGroup.A0_8),
    (17, AgeGroup.A9_17),
    (20, AgeGroup.A18_20),
    (23, AgeGroup.A21_23),
    (26, AgeGroup.A24_26),
    (29, AgeGroup.A27_29),
    (38, AgeGroup.A30_38),
    (47, AgeGroup.A39_47),
]


def age_group(age: int | None) -> AgeGroup:
    if age is None or age < 0:
        return AgeGroup.UNKNOWN
    for upper, group in _BINS:
        if age <= upper:
            return group
    return AgeGroup.A48


class CaseStatus(models.TextChoices):
    REFERRED = "referred", _("Referred")
    SCREENED = "screened", _("Screened")
    DECISION_PENDING = "decision_pending", _("Decision pending")
    IDENTIFIED = "identified", _("Identified as victim")
    NOT_IDENTIFIED = "not_identified", _("Not identified")
    CLOSED = "closed", _("Closed")


class TraffickingStatus(models.TextChoices):
    """HTCDS vic_TraffickingStatus."""

    POSSIBLE = "possible_victim_of_trafficking", _("Possible victim of trafficking")
    ACTUAL = "actual_victim_of_trafficking", _("Actual victim of trafficking")
    NOT_VICTIM = "not_a_victim_of_trafficking", _("Not a victim of trafficking")


class ConsentPurpose(models.TextChoices):
    DATA_PROCESSING = "data_processing", _("Processing of personal data")
    REFERRAL = "referral", _("Referral to an agency")
    CROSS_BORDER = "cross_border", _("Sharing with another country")
    RESEARCH = "research", _("Research and statistics beyond the mechanism")


class ConsentBasis(models.TextChoices):
    CONSENT = "consent", _("Consent of the person")
    GUARDIAN = "guardian", _("Consent of the guardian of a child")
    CHILD_BEST_INTERESTS = "child_best_interests", _("Child: referral in the best interests of the child")
    LEGAL_OBLIGATION = "legal_obligation", _("Required by law")


class DecisionOutcome(models.TextChoices):
    GRANTED = "granted", _("Status granted")
    REFUSED = "refused", _("Status refused")


class ClosureReason(models.TextChoices):
    ASSISTANCE_COMPLETED = "assistance_completed", _("Assistance completed")
    REFERRED_ELSEWHERE = "referred_elsewhere", _("Referred to another organisation or country")
    RETURNED = "returned", _("Returned to the country of origin")
    DECLINED_ASSISTANCE = "declined_assistance", _("The person declined further assistance")
    LOST_CONTACT = "lost_contact", _("Contact lost")
    NOT_A_VICTIM = "not_a_victim", _("Not identified as a victim")
    DECEASED = "deceased", _("Deceased")
    OTHER = "other", _("Other")


# Which HTCDS cas_Status a closed case exports as.
CLOSURE_HTCDS_STATUS = {ClosureReason.REFERRED_ELSEWHERE: "ClosedReferred"}


class EventType(models.TextChoices):
    """HTCDS hte_Type."""

    RECRUITMENT = "recruitment", _("Recruitment")
    TRANSIT = "transit", _("Transit")
    EXPLOITATION = "exploitation", _("Exploitation")


class DocumentType(models.TextChoices):
    PASSPORT = "passport", _("Passport")
    NATIONAL_ID = "national_id", _("National identity card")
    RESIDENCE_PERMIT = "residence_permit", _("Residence permit")
    BIRTH_CERTIFICATE = "birth_certificate", _("Birth certificate")
    OTHER = "other", _("Other document")


# Named choice sets for the OpenAPI schema (settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
SUPPORT_PLAN_TYPES = htcds_snake_choices("spl_Type")
