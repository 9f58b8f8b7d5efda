from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opennrm.accounts.models import Agency
from opennrm.cases.choices import ConsentBasis
from opennrm.cases.models import Case
from opennrm.referrals.models import ServiceType
from opennrm.referrals.selectors import provider_agencies, services_for


class AgencyChoiceField(forms.ModelChoiceField[Agency]):
    def __init__(self, *args: Any, consented: set[int] | None = None, **kwargs: Any) -> None:
        self.consented = consented or set()
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Agency) -> str:
        label = f"{obj.name} ({obj.get_kind_display()})"
        if obj.pk in self.consented:
            label += " — " + str(_("consent on file"))
        return label


class ReferralForm(forms.Form):
    """Refer a case to an agency for a service. Without a consent on file for the chosen agency, the person's
    consent can be recorded now, or a lawful basis given instead."""

    service = forms.ModelChoiceField(queryset=ServiceType.objects.none(), label=_("Service"))
    to_agency = AgencyChoiceField(queryset=Agency.objects.none(), label=_("Refer to agency"))
    from_agency = forms.ModelChoiceField(queryset=Agency.objects.none(), label=_("Referring on behalf of"))
    reason = forms.CharField(
        label=_("What is needed"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The provider reads this. Write only what they need to know to provide the service."),
    )
    consent_now = forms.BooleanField(
        label=_("The person consents now to being referred to this agency"),
        required=False,
        help_text=_(
            "Records their consent to a referral to the chosen agency. Ask them first, in a language "
            "they understand."
        ),
    )
    override_basis = forms.ChoiceField(
        label=_("Or, without consent, on this basis"),
        required=False,
        help_text=_(
            "Only where the law allows it. The referral and its basis are recorded in the audit log."
        ),
    )
    override_justification = forms.CharField(
        label=_("Legal provision and reasons"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when the law requires the referral."),
    )

    def __init__(
        self, *args: Any, case: Case, senders: list[Agency], consented: set[int], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.case = case
        service_field = self.fields["service"]
        assert isinstance(service_field, forms.ModelChoiceField)
        service_field.queryset = services_for(case.country)
        agency_field = self.fields["to_agency"]
        assert isinstance(agency_field, AgencyChoiceField)
        agency_field.queryset = provider_agencies(case)
        agency_field.consented = consented
        # Asked only of a user who may refer this case on behalf of several agencies.
        self.single_sender = senders[0] if len(senders) == 1 else None
        if self.single_sender is not None:
            del self.fields["from_agency"]
        else:
            sender_field = self.fields["from_agency"]
            assert isinstance(sender_field, forms.ModelChoiceField)
            sender_field.queryset = Agency.objects.filter(pk__in=[a.pk for a in senders]).order_by("name")
        bases = [("", _("— none: the person consents —"))]
        if case.is_child:
            bases += [
                (ConsentBasis.CHILD_BEST_INTERESTS.value, ConsentBasis.CHILD_BEST_INTERESTS.label),
                (ConsentBasis.GUARDIAN.value, ConsentBasis.GUARDIAN.label),
            ]
        bases.append((ConsentBasis.LEGAL_OBLIGATION.value, ConsentBasis.LEGAL_OBLIGATION.label))
        basis_field = self.fields["override_basis"]
        assert isinstance(basis_field, forms.ChoiceField)
        basis_field.choices = bases

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.single_sender is not None:
            data["from_agency"] = self.single_sender
        if data.get("consent_now") and data.get("override_basis"):
            raise forms.ValidationError(
                _("Choose either the person's consent or a basis without consent, not both.")
            )
        if (
            data.get("override_basis") == ConsentBasis.LEGAL_OBLIGATION
            and not (data.get("override_justification") or "").strip()
        ):
            self.add_error(
                "override_justification",
                _("Say which legal provision requires this referral without consent."),
            )
        return data


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the referral is declined"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The sender reads this, to look for another provider. No personal details."),
    )


class DeliveryForm(forms.Form):
    start_date = forms.DateField(
        label=pgettext_lazy("start of a period", "From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end_date = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Leave empty while the service goes on."),
    )
    description = forms.CharField(
        label=_("What was provided"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start_date"].widget.attrs["max"] = timezone.localdate().isoformat()
