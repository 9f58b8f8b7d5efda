"""Forms of the shelter pages. They check the shape of the input; the rules stay in `services.py`, whose
`DomainError`s the views put on the forms (on the field they concern, by their code)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency
from opennrm.cases.forms import DateInput, region_choices
from opennrm.referrals.models import Referral
from opennrm.shelters.models import Category, DischargeReason, Shelter
from opennrm.shelters.services import MAX_PLACES, ShelterData


def moment(day: dt.date) -> dt.datetime:
    """The moment recorded for a day chosen on a form: now for today, else noon (local time) of that day."""
    now = timezone.now()
    if day == timezone.localdate(now):
        return now
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=timezone.get_current_timezone())


def _places(label: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=MAX_PLACES,
        initial=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0}),
    )


class ShelterForm(forms.Form):
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(), label=_("Operating agency"), to_field_name="public_id"
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    region = forms.ChoiceField(label=_("Region"), choices=region_choices)
    address = forms.CharField(
        label=_("Confidential address"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=_(
            "Kept encrypted. Only the shelter's staff and the coordinators can read it, and every read is "
            "recorded. Never write it anywhere else."
        ),
    )
    capacity_women = _places(_("Places for women"))
    capacity_men = _places(_("Places for men"))
    capacity_children = _places(_("Places for children"))
    capacity_families = _places(_("Places for families"))
    wheelchair_accessible = forms.BooleanField(label=_("Wheelchair access"), required=False)
    accessibility_notes = forms.CharField(
        label=_("Accessibility notes"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: lift, ground-floor room, accessible bathroom. No address details."),
    )
    is_active = forms.BooleanField(label=_("Open (admits people)"), required=False, initial=True)

    def __init__(self, *args: Any, agencies: QuerySet[Agency] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if agencies is None:
            del self.fields["agency"]
        else:
            self.fields["agency"].queryset = agencies  # type: ignore[attr-defined]

    def shelter_data(self) -> ShelterData:
        data = self.cleaned_data
        return ShelterData(
            name=data["name"],
            region=data["region"],
            address=data["address"],
            capacity_women=data["capacity_women"],
            capacity_men=data["capacity_men"],
            capacity_children=data["capacity_children"],
            capacity_families=data["capacity_families"],
            wheelchair_accessible=data["wheelchair_accessible"],
            accessibility_notes=data["accessibility_notes"],
            is_active=data["is_active"],
        )

    @staticmethod
    def initial_for(shelter: Shelter, address: str) -> dict[str, Any]:
        return {
            "name": shelter.name,
            "region": shelter.region,
            "address": address,
            **{f"capacity_{c}": shelter.capacity(c) for c in Category.values},
            "wheelchair_accessible": shelter.wheelchair_accessible,
            "accessibility_notes": shelter.accessibility_notes,
            "is_active": shelter.is_active,
        }


class ReferralChoiceField(forms.ModelChoiceField[Referral]):
    def label_from_instance(self, obj: Referral) -> str:
        accepted = (
            formats.date_format(timezone.localdate(obj.responded_at), "SHORT_DATE_FORMAT")
            if obj.responded_at
            else ""
        )
        label = f"{obj.case.reference} · {obj.service.name}"
        if accepted:
            label += " · " + str(_("accepted %(date)s") % {"date": accepted})
        if obj.case.is_child:
            label += " · " + str(_("child"))
        return label


class OverCapacityMixin(forms.Form):
    accept_over_capacity = forms.BooleanField(
        label=_("Accept over capacity"),
        required=False,
        help_text=_(
            "Coordinators only: admit the person although the category is full. Recorded in the audit log."
        ),
    )
    over_capacity_reason = forms.CharField(
        label=_("Why over capacity"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def drop_over_capacity(self) -> None:
        del self.fields["accept_over_capacity"]
        del self.fields["over_capacity_reason"]

    def over_capacity(self) -> tuple[bool, str]:
        return (
            bool(self.cleaned_data.get("accept_over_capacity")),
            self.cleaned_data.get("over_capacity_reason") or "",
        )


class AdmitForm(OverCapacityMixin):
    referral = ReferralChoiceField(
        queryset=Referral.objects.none(),
        label=_("Accepted shelter referral"),
        to_field_name="public_id",
        help_text=_(
            "Only accepted shelter referrals to this shelter's agency whose person is not placed now."
        ),
    )
    category = forms.ChoiceField(label=_("Place"), choices=Category.choices)
    admitted_on = forms.DateField(label=_("Admitted on"), widget=DateInput())

    field_order = ["referral", "category", "admitted_on", "accept_over_capacity", "over_capacity_reason"]

    def __init__(self, *args: Any, referrals: QuerySet[Referral], coordinator: bool, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("admitted_on", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["referral"].queryset = referrals  # type: ignore[attr-defined]
        if not coordinator:
            self.drop_over_capacity()


class DischargeForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason for leaving"),
        choices=[("", "—")] + [c for c in DischargeReason.choices if c[0] != DischargeReason.TRANSFERRED],
    )
    discharged_on = forms.DateField(label=_("Left on"), widget=DateInput())
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept encrypted. Only what the case team needs to know."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("discharged_on", timezone.localdate())
        super().__init__(*args, **kwargs)


class ShelterChoiceField(forms.ModelChoiceField[Shelter]):
    def label_from_instance(self, obj: Shelter) -> str:
        return f"{obj.name} ({obj.agency.name})"


class TransferForm(OverCapacityMixin):
    to_shelter = ShelterChoiceField(
        queryset=Shelter.objects.none(), label=_("Move to shelter"), to_field_name="public_id"
    )
    category = forms.ChoiceField(label=_("Place"), choices=Category.choices)
    transferred_on = forms.DateField(label=_("Moved on"), widget=DateInput())
    version = forms.IntegerField(widget=forms.HiddenInput)

    field_order = ["to_shelter", "category", "transferred_on", "accept_over_capacity", "over_capacity_reason"]

    def __init__(self, *args: Any, targets: QuerySet[Shelter], coordinator: bool, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("transferred_on", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["to_shelter"].queryset = targets  # type: ignore[attr-defined]
        if not coordinator:
            self.drop_over_capacity()


EXTEND, REFUSE = "extend", "refuse"


class ExtensionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(EXTEND, _("Extend the stay")), (REFUSE, _("Do not extend"))],
        widget=forms.RadioSelect,
        initial=EXTEND,
    )
    until = forms.DateField(
        label=_("Extend until"), required=False, widget=DateInput(), help_text=_("Needed to extend.")
    )
    reason = forms.CharField(
        label=_("Reasons"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept encrypted."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == EXTEND and not data.get("until"):
            self.add_error("until", _("Give the date the stay is extended to."))
        return data
