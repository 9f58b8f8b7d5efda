"""Forms of the screening, decision and assistance pages. They only shape the input: the rules of the mechanism
are checked by the services, whose `DomainError` the views show on the form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from opennrm.cases import screening as instruments
from opennrm.cases.choices import ClosureReason, DecisionOutcome, htcds_snake_choices
from opennrm.core.profiles import active_profile


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class ScreeningForm(forms.Form):
    """The indicators found in one list of one instrument version. The indicator checkboxes are drawn by the
    template, one fieldset per dimension; this form checks that each ticked id belongs to the list."""

    instrument = forms.CharField(widget=forms.HiddenInput, max_length=64)
    version = forms.CharField(widget=forms.HiddenInput, max_length=32)
    list = forms.CharField(widget=forms.HiddenInput, max_length=64)
    found = forms.MultipleChoiceField(label=_("Indicators found"), required=False)
    notes = forms.CharField(
        label=_("Notes for the decision maker"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "What the person said or what you saw that supports the indicators ticked. Kept encrypted."
        ),
    )

    def __init__(
        self, *args: Any, instrument_list: instruments.InstrumentList | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        indicators = instrument_list.indicators if instrument_list is not None else ()
        self.fields["found"].choices = [(i.id, str(i.label)) for i in indicators]  # type: ignore[attr-defined]


class RequestDecisionForm(forms.Form):
    # A free value shown as a list: an unknown route is refused by `services.request_decision`, with its message.
    route = forms.CharField(label=_("Identification route"), max_length=40, widget=forms.Select)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["route"].widget.choices = active_profile().authority_choices()


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Decision"), choices=DecisionOutcome.choices, widget=forms.RadioSelect
    )
    reasons = forms.CharField(
        label=_("Reasons"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("The reasons are given to the person and kept encrypted."),
    )
    members = forms.CharField(
        label=_("Members who decided"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One name per line."),
    )

    def members_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("members", "").splitlines() if line.strip()]


class PlanItemForm(forms.Form):
    type = forms.ChoiceField(label=_("Type of support"), choices=())
    objective = forms.CharField(label=_("Objective"), widget=forms.Textarea(attrs={"rows": 3}))
    action = forms.CharField(label=_("Action"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    planned_end = forms.DateField(label=_("Planned end"), required=False, widget=DateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "—"), *htcds_snake_choices("spl_Type")]  # type: ignore[attr-defined]


class PlanCompleteForm(forms.Form):
    actual_end = forms.DateField(label=_("Actual end"), widget=DateInput())


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 4}), help_text=_("Kept encrypted.")
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        widget=forms.FileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.txt"}),
    )


class PaymentForm(forms.Form):
    payment_reference = forms.CharField(label=_("Payment reference"), max_length=64)


class CloseForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason for closing"), choices=[("", "—"), *ClosureReason.choices])
    follow_up_date = forms.DateField(label=_("Follow-up date"), required=False, widget=DateInput())


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the case reopened?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept with the case notes, encrypted."),
    )
