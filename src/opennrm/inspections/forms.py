"""Forms of the inspection pages. They check the shape of the input; the rules stay in `services.py`, whose
`DomainError`s the views put on the forms (on the field they concern, by their code)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.cases import screening as instruments
from opennrm.cases.choices import DocumentType
from opennrm.cases.forms import DateInput, country_choices, owning_agencies, picklist, region_choices
from opennrm.cases.services import IntakeData
from opennrm.inspections.models import EmployerIdentifier, Inspection

YES, NO = "yes", "no"
LABOUR_FORM = "forced_labour"


def _numeric(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, **attrs})


def sector_choices() -> list[tuple[str, Any]]:
    return [("", "—"), *picklist("vic_ForcedLabourIndustry")()]


class InspectorField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class InspectionForm(forms.Form):
    """An inspection, as recorded on site or corrected afterwards (`version`: the one that was read)."""

    agency = forms.ChoiceField(label=_("Inspecting agency"))
    inspectors = InspectorField(
        label=_("Inspectors"),
        queryset=User.objects.none(),
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Everyone of your agency who took part. Nobody ticked: you."),
    )
    date = forms.DateField(label=_("Date of the inspection"), widget=DateInput())
    employer_name = forms.CharField(
        label=_("Employer"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Kept encrypted."),
    )
    tax_id = forms.CharField(
        label=EmployerIdentifier.TAX_ID.label,
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    registration = forms.CharField(
        label=EmployerIdentifier.REGISTRATION.label,
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    sector = forms.ChoiceField(label=_("Sector"), choices=sector_choices)
    region = forms.ChoiceField(label=_("Region"), choices=region_choices)
    joint_with_police = forms.BooleanField(label=_("Joint inspection with the police"), required=False)
    workers_present = forms.IntegerField(label=_("Workers present"), min_value=0, widget=_numeric())
    workers_interviewed = forms.IntegerField(label=_("Workers interviewed"), min_value=0, widget=_numeric())
    findings = forms.CharField(
        label=_("Findings"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "autocomplete": "off"}),
        help_text=_("What you saw and what the workers said about the workplace. Kept encrypted."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, agencies: list[Agency], inspectors: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agencies = {agency.public_id: agency for agency in agencies}
        agency_field = self.fields["agency"]
        assert isinstance(agency_field, forms.ChoiceField)
        agency_field.choices = [(a.public_id, a.name) for a in agencies]
        if len(agencies) == 1:
            agency_field.widget = forms.HiddenInput()
            agency_field.initial = agencies[0].public_id
            agency_field.required = False
        inspector_field = self.fields["inspectors"]
        assert isinstance(inspector_field, forms.ModelMultipleChoiceField)
        inspector_field.queryset = inspectors
        self.fields["date"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.fields["date"].initial = timezone.localdate

    @classmethod
    def initial_for(cls, inspection: Inspection) -> dict[str, Any]:
        identifiers = {item["type"]: item["value"] for item in inspection.identifiers}
        return {
            "agency": inspection.agency.public_id,
            "inspectors": list(inspection.inspectors.values_list("public_id", flat=True)),
            "date": inspection.date,
            "employer_name": inspection.employer_name,
            "tax_id": identifiers.get(EmployerIdentifier.TAX_ID, ""),
            "registration": identifiers.get(EmployerIdentifier.REGISTRATION, ""),
            "sector": inspection.sector,
            "region": inspection.region,
            "joint_with_police": inspection.joint_with_police,
            "workers_present": inspection.workers_present,
            "workers_interviewed": inspection.workers_interviewed,
            "findings": inspection.findings,
            "version": inspection.version,
        }

    def chosen_agency(self) -> Agency:
        wanted = self.cleaned_data.get("agency") or next(iter(self.agencies))
        return self.agencies[wanted]

    def identifiers(self) -> list[dict[str, str]]:
        data = self.cleaned_data
        return [
            {"type": kind, "value": data[name].strip()}
            for name, kind in (
                ("tax_id", EmployerIdentifier.TAX_ID),
                ("registration", EmployerIdentifier.REGISTRATION),
            )
            if data.get(name, "").strip()
        ]

    def values(self) -> dict[str, Any]:
        """What the services take, from the cleaned data."""
        data = self.cleaned_data
        return {
            "employer_name": data["employer_name"],
            "employer_identifiers": self.identifiers(),
            "sector": data["sector"],
            "region": data["region"],
            "date": data["date"],
            "joint_with_police": data["joint_with_police"],
            "workers_present": data["workers_present"],
            "workers_interviewed": data["workers_interviewed"],
            "findings": data.get("findings", ""),
        }


def labour_choices(age: int | None = None) -> list[instruments.InstrumentChoice]:
    """The labour lists for a worker (age unknown: every list, for adults and for children)."""
    return instruments.choose_instrument(age=age, form=LABOUR_FORM)


def choice_key(choice: instruments.InstrumentChoice) -> str:
    return f"{choice.instrument.id}|{choice.instrument.version}|{choice.instrument_list.id}"


def choice_label(choice: instruments.InstrumentChoice) -> str:
    population = instruments.Population(choice.instrument_list.population).label
    label = f"{choice.instrument_list.title} ({population}) — {choice.instrument.title}, " + str(
        _("version %(version)s") % {"version": choice.instrument.version}
    )
    if not choice.usable:
        label += " — " + str(_("no indicators loaded"))
    return label


class StartScreeningForm(forms.Form):
    """A worker, without identity: what the list choice and the statistics need."""

    age = forms.IntegerField(
        label=_("Age (estimate)"),
        required=False,
        min_value=0,
        max_value=120,
        widget=_numeric(max=120),
        help_text=_("Leave empty if you cannot tell. Under 18: use a list for children."),
    )
    sex = forms.ChoiceField(
        label=_("Sex / gender"), choices=picklist("prs_Gender"), initial="non_specified_unknown"
    )
    citizenship = forms.ChoiceField(label=_("Citizenship"), choices=country_choices, required=False)
    choice = forms.ChoiceField(label=_("Indicator list"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = labour_choices()
        field = self.fields["choice"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(choice_key(c), choice_label(c)) for c in self.options]
        usable = [c for c in self.options if c.usable]
        if usable:
            field.initial = choice_key(usable[0])

    def chosen(self) -> tuple[str, str, str]:
        instrument_id, version, list_id = self.cleaned_data["choice"].split("|")
        return instrument_id, version, list_id


class ScreeningForm(forms.Form):
    """The indicators ticked so far (the checkboxes are drawn by the template, one fieldset per dimension)."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    found = forms.MultipleChoiceField(required=False)

    def __init__(self, *args: Any, instrument_list: instruments.InstrumentList, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["found"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(i.id, str(i.label)) for i in instrument_list.indicators]


class ReferForm(forms.Form):
    """Consent, then (with consent, or for a child) who the worker is and which agency takes the case."""

    consent = forms.ChoiceField(
        label=_("Does the worker agree to be referred to the mechanism with their identity?"),
        choices=[(YES, _("Yes, the worker consents")), (NO, _("No, the worker does not consent"))],
        widget=forms.RadioSelect,
        help_text=_(
            "Ask before you write down who the worker is. An adult who says no is counted in an anonymous "
            "notification: nothing you type below is kept. A child is referred in any case, in the child's best "
            "interests."
        ),
    )
    given_name = forms.CharField(
        label=_("Given name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    family_name = forms.CharField(
        label=_("Family name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DateInput())
    age_estimate = forms.IntegerField(
        label=_("Estimated age"),
        required=False,
        min_value=0,
        max_value=120,
        widget=_numeric(max=120),
        help_text=_("If the date of birth is not known."),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    document_type = forms.ChoiceField(
        label=_("Document type"), choices=[("", "—"), *DocumentType.choices], required=False
    )
    document_number = forms.CharField(
        label=_("Document number"),
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    guardian = forms.CharField(
        label=_("Guardian (for a child)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Name and contact of the parent or legal guardian, if known."),
    )
    owning_agency = forms.ModelChoiceField(
        label=_("Agency that takes the case"),
        queryset=Agency.objects.none(),
        to_field_name="public_id",
        required=False,
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    IDENTITY = (
        "given_name",
        "family_name",
        "date_of_birth",
        "age_estimate",
        "phone",
        "document_type",
        "document_number",
        "guardian",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agencies = owning_agencies()
        field = self.fields["owning_agency"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = agencies
        default = next((a for a in agencies if a.kind == AgencyKind.STATE_FUND), None) or agencies.first()
        if default is not None:
            field.initial = default.public_id
        self.fields["date_of_birth"].widget.attrs["max"] = timezone.localdate().isoformat()

    @property
    def consent_given(self) -> bool:
        return self.cleaned_data.get("consent") == YES

    def identity(self) -> IntakeData:
        data = self.cleaned_data
        number = data.get("document_number", "").strip()
        return IntakeData(
            given_name=data.get("given_name", ""),
            family_name=data.get("family_name", ""),
            date_of_birth=data.get("date_of_birth"),
            age_estimate=data.get("age_estimate"),
            phone=data.get("phone", ""),
            document_type=data.get("document_type") or (DocumentType.OTHER if number else ""),
            document_number=number,
            guardian=data.get("guardian", ""),
        )
