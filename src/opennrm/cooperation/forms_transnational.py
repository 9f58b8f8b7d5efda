"""Forms of the transnational referral pages. They check the shape of the input; the rules (consent, statuses,
who may act) stay in `transnational.py`, whose `DomainError`s the views turn into form errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency
from opennrm.cooperation.models import Partner, UpdateKind
from opennrm.cooperation.transnational import NOTE_MAX, ServiceNeed, receiving_agencies, referral_partners
from opennrm.core.profiles import active_profile
from opennrm.core.reference import UnknownCodeError, country_name


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PartnerChoiceField(forms.ModelChoiceField[Partner]):
    def __init__(self, *args: Any, consented: set[str] | None = None, **kwargs: Any) -> None:
        self.consented = consented or set()
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Partner) -> str:
        try:
            label = f"{country_name(obj.country)} — {obj.name} ({obj.code})"
        except UnknownCodeError:
            label = f"{obj.name} ({obj.code})"
        if obj.country in self.consented:
            label += " — " + str(_("consent on file"))
        return label


class TransnationalReferralForm(forms.Form):
    partner = PartnerChoiceField(
        queryset=Partner.objects.none(), to_field_name="code", label=_("Refer to the partner country")
    )
    services = forms.MultipleChoiceField(
        label=_("What the person needs there"),
        choices=ServiceNeed.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The partner arranges each need with its own services."),
    )
    planned_arrival = forms.DateField(label=_("Planned arrival"), required=False, widget=_date_input())
    note = forms.CharField(
        label=_("Note for the partner"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "The partner reads this. Write only what they need to arrange the help: not what happened, no "
            "contacts or addresses."
        ),
    )
    consent_now = forms.BooleanField(
        label=_("The person consents now to sharing their details with this country"),
        required=False,
        help_text=_(
            "Records their consent to sharing with the chosen country. Ask them first, in a language they "
            "understand. Without a consent on file for that country, nothing is sent."
        ),
    )

    def __init__(self, *args: Any, consented: set[str], may_record_consent: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["partner"]
        assert isinstance(field, PartnerChoiceField)
        field.queryset = referral_partners()
        field.consented = consented
        if not may_record_consent:
            del self.fields["consent_now"]


class AcceptForm(forms.Form):
    owning_agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(),
        to_field_name="public_id",
        label=_("Agency that runs the case here"),
    )
    region = forms.ChoiceField(label=_("Region"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agency = self.fields["owning_agency"]
        assert isinstance(agency, forms.ModelChoiceField)
        agency.queryset = receiving_agencies()
        region = self.fields["region"]
        assert isinstance(region, forms.ChoiceField)
        region.choices = [("", "—"), *active_profile().region_choices()]


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the referral is declined"),
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The partner reads this, to look for another way to help the person."),
    )


class UpdateForm(forms.Form):
    kind = forms.ChoiceField(label=_("Update"), choices=UpdateKind.choices)
    date = forms.DateField(
        label=_("Date"),
        required=False,
        widget=_date_input(),
        help_text=_("Required for an arrival and a return date."),
    )
    note = forms.CharField(
        label=_("Note for the partner"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The partner reads this. Only what they need to know."),
    )
