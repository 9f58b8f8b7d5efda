"""Forms of the cases pages. They check the shape of the input; the rules of the mechanism stay in `services.py`
(whose `DomainError`s the views turn into form errors)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.access import Access
from opennrm.accounts.models import Agency, AgencyKind, Membership, User
from opennrm.accounts.roles import Perm, Role
from opennrm.cases.choices import (
    CaseStatus,
    ConsentBasis,
    ConsentPurpose,
    DocumentType,
    htcds_snake_choices,
)
from opennrm.cases.models import Case, Person
from opennrm.core.blind_index import normalise, normalise_document_number
from opennrm.core.profiles import active_profile
from opennrm.core.reference import countries, language_name, languages

CHILD_AGE = 18  # as services.CHILD_AGE: the form only uses it to decide whether to ask for consent
YES, NO = "yes", "no"
Choices = list[tuple[str, Any]]


# --- choices that follow the language of each request ----------------------------------------------


def _blank(label: str | Promise = "—") -> Choices:
    return [("", label)]


def country_choices() -> Choices:
    return _blank() + countries()


def region_choices() -> Choices:
    return _blank() + list(active_profile().region_choices())


def language_choices() -> Choices:
    """The languages of the country first, then every ISO 639-1 language."""
    own = list(active_profile().languages)
    first = [(code, language_name(code)) for code in own]
    rest = [(code, name) for code, name in languages(iso639_1_only=True) if code not in own]
    return [(str(_("Languages of the country")), first), (str(_("Other languages")), rest)]


def picklist(name: str) -> Callable[[], Choices]:
    return lambda: list(htcds_snake_choices(name))


def blank_picklist(name: str) -> Callable[[], Choices]:
    return lambda: _blank() + list(htcds_snake_choices(name))


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _checkboxes() -> forms.CheckboxSelectMultiple:
    return forms.CheckboxSelectMultiple()


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", **attrs})


def _area(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "autocomplete": "off"})


# --- shared helpers ----------------------------------------------------------------------------------


def age_on(born: dt.date | None, on: dt.date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def estimated_age(
    date_of_birth: dt.date | None, age_estimate: int | None, first_contact: dt.date | None
) -> int | None:
    """The age the services use: from the date of birth at first contact, else the estimate."""
    on = first_contact or timezone.localdate()
    return age_on(date_of_birth, on) if date_of_birth else age_estimate


def is_child(date_of_birth: dt.date | None, age_estimate: int | None, first_contact: dt.date | None) -> bool:
    age = estimated_age(date_of_birth, age_estimate, first_contact)
    return age is not None and 0 <= age < CHILD_AGE


def identity_token(given: str, family: str, born: dt.date | None, document: str) -> str:
    """A keyed digest of what the duplicate check looked at: "create anyway" holds only for the same person."""
    value = "\x1f".join(
        [
            normalise(given),
            normalise(family),
            born.isoformat() if born else "",
            normalise_document_number(document),
        ]
    )
    return salted_hmac("opennrm.cases.intake.duplicates", value, algorithm="sha256").hexdigest()


def owning_agencies() -> QuerySet[Agency]:
    """Agencies that can take a case: active, with at least one active case worker."""
    with_workers = Membership.objects.active().filter(role=Role.CASE_WORKER).values("agency_id")
    return Agency.objects.filter(is_active=True, pk__in=with_workers).order_by("name")


def case_workers_of(agency: Agency) -> QuerySet[User]:
    members = Membership.objects.active().filter(role=Role.CASE_WORKER, agency=agency).values("user_id")
    return User.objects.filter(pk__in=members, is_active=True).order_by("first_name", "last_name", "username")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class AgencyChoiceForm(forms.Form):
    """A form filed for one of the user's agencies: a choice only when the user refers for more than one."""

    referring_agencies: list[Agency]

    def set_referring_agencies(self, access: Access | None) -> None:
        agencies: dict[int, Agency] = {}
        for membership in access.memberships_with(Perm.CASE_REFER) if access else []:
            agencies.setdefault(membership.agency_id, membership.agency)
        self.referring_agencies = list(agencies.values())
        if len(self.referring_agencies) > 1:
            self.fields["referring_agency"] = forms.ChoiceField(
                label=_("Your agency"), choices=[(a.public_id, a.name) for a in self.referring_agencies]
            )

    def referring_agency(self) -> Agency | None:
        wanted = self.cleaned_data.get("referring_agency")
        for agency in self.referring_agencies:
            if wanted is None or agency.public_id == wanted:
                return agency
        return None


# --- intake ---------------------------------------------------------------------------------------------


class ReferralForm(AgencyChoiceForm):
    """The referral of a presumed victim: the minimum first, details when known."""

    consent = forms.ChoiceField(
        label=_("Does the person consent to their data being processed for assistance?"),
        choices=[(YES, _("Yes, the person consents")), (NO, _("No, the person does not consent"))],
        widget=forms.RadioSelect,
        required=False,
        help_text=_(
            "Ask before you write down who the person is. A child (under 18) needs no consent: the referral is "
            "made in the child's best interests. An adult who says no can still be counted anonymously."
        ),
    )
    given_name = forms.CharField(label=_("Given name"), max_length=200, widget=_text())
    family_name = forms.CharField(label=_("Family name"), max_length=200, required=False, widget=_text())
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DateInput())
    age_estimate = forms.IntegerField(
        label=_("Estimated age"),
        required=False,
        min_value=0,
        max_value=120,
        help_text=_("If the date of birth is not known."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    sex = forms.ChoiceField(
        label=_("Sex / gender"), choices=picklist("prs_Gender"), initial="non_specified_unknown"
    )
    citizenship = forms.ChoiceField(label=_("Citizenship"), choices=country_choices, required=False)
    languages = forms.MultipleChoiceField(
        label=_("Languages the person speaks"),
        choices=language_choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    document_type = forms.ChoiceField(
        label=_("Document type"), choices=_blank() + list(DocumentType.choices), required=False
    )
    document_number = forms.CharField(
        label=_("Document number"), max_length=60, required=False, widget=_text()
    )
    first_contact_date = forms.DateField(
        label=_("Date of first contact"),
        required=False,
        widget=DateInput(),
        help_text=_("Leave as today if you met the person today."),
    )
    region = forms.ChoiceField(label=_("Region"), choices=region_choices, required=False)
    exploitation_forms = forms.MultipleChoiceField(
        label=_("Forms of exploitation"),
        choices=picklist("vic_TypeOfExploitation"),
        required=False,
        widget=_checkboxes(),
    )
    exploitation_country = forms.ChoiceField(
        label=_("Country of exploitation"), choices=country_choices, required=False
    )
    narrative = forms.CharField(
        label=_("What happened"),
        required=False,
        widget=_area(5),
        help_text=_("In a few sentences, in the person's words where possible."),
    )
    guardian = forms.CharField(
        label=_("Guardian (for a child)"),
        required=False,
        widget=_area(2),
        help_text=_("Name and contact of the parent or legal guardian, or of the guardian appointed."),
    )
    owning_agency = forms.ModelChoiceField(
        label=_("Agency that takes the case"),
        queryset=Agency.objects.none(),
        to_field_name="public_id",
        empty_label=None,
        required=False,
    )

    IDENTITY = (
        "given_name",
        "family_name",
        "date_of_birth",
        "age_estimate",
        "sex",
        "citizenship",
        "languages",
        "phone",
        "document_type",
        "document_number",
    )
    CONTEXT = ("first_contact_date", "region", "exploitation_forms", "exploitation_country", "narrative")

    def __init__(self, *args: Any, access: Access | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agencies = owning_agencies()
        field = self.fields["owning_agency"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = agencies
        self.default_owner = (
            next((a for a in agencies if a.kind == AgencyKind.STATE_FUND), None) or agencies.first()
        )
        if self.default_owner is not None:
            field.initial = self.default_owner.public_id
        self.fields["first_contact_date"].initial = timezone.localdate
        self.fields["date_of_birth"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.fields["first_contact_date"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.set_referring_agencies(access)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("document_number", "").strip() and not data.get("document_type"):
            data["document_type"] = DocumentType.OTHER
        if not data.get("owning_agency") and "owning_agency" not in self.errors:
            if self.default_owner is None:
                self.add_error("owning_agency", _("No agency can take cases yet: ask your administrator."))
            else:
                data["owning_agency"] = self.default_owner
        return data

    def forget_identity(self) -> None:
        """After a refusal: what identifies the person is not even kept on the screen (the errors stay)."""
        dropped = {*self.IDENTITY, "narrative", "guardian"}
        kept = QueryDict(mutable=True)
        if isinstance(self.data, QueryDict):
            for key, values in self.data.lists():
                if key not in dropped:
                    kept.setlist(key, values)
        self.data = kept
        self._bound_fields_cache: dict[str, Any] = {}  # bound fields keep the data they were validated with

    @property
    def child(self) -> bool:
        data = self.cleaned_data
        return is_child(data.get("date_of_birth"), data.get("age_estimate"), data.get("first_contact_date"))

    @property
    def consent_given(self) -> bool:
        return self.cleaned_data.get("consent") == YES

    def token(self) -> str:
        data = self.cleaned_data
        return identity_token(
            data["given_name"],
            data.get("family_name", ""),
            data.get("date_of_birth"),
            data.get("document_number", ""),
        )

    def notification_query(self) -> dict[str, Any]:
        """What carries over to an anonymous notification: nothing that identifies the person."""
        data = self.cleaned_data
        age = estimated_age(
            data.get("date_of_birth"), data.get("age_estimate"), data.get("first_contact_date")
        )
        first_contact = data.get("first_contact_date")
        return {
            "first_contact_date": first_contact.isoformat() if first_contact else "",
            "sex": data.get("sex", ""),
            "age": "" if age is None else str(age),
            "citizenship": data.get("citizenship", ""),
            "region": data.get("region", ""),
            "exploitation_forms": list(data.get("exploitation_forms") or []),
            "exploitation_country": data.get("exploitation_country", ""),
        }

    def fieldsets(self) -> list[tuple[str | Promise, list[forms.BoundField]]]:
        rows: list[tuple[str | Promise, Sequence[str]]] = [
            (_("The person"), self.IDENTITY),
            (_("What happened"), self.CONTEXT),
            (_("A child"), ("guardian",)),
            (_("Who takes the case"), ("owning_agency", "referring_agency")),
        ]
        return [(legend, [self[name] for name in names if name in self.fields]) for legend, names in rows]


class DuplicateCheckForm(forms.Form):
    """What the as-you-type duplicate check reads from the referral form (nothing else is looked at)."""

    consent = forms.CharField(required=False)
    given_name = forms.CharField(max_length=200, required=False)
    family_name = forms.CharField(max_length=200, required=False)
    date_of_birth = forms.DateField(required=False)
    age_estimate = forms.IntegerField(required=False, min_value=0, max_value=120)
    first_contact_date = forms.DateField(required=False)
    document_number = forms.CharField(max_length=60, required=False)

    def may_check(self) -> bool:
        """Identity is looked up only with consent, or for a child, and only once there is a name or document."""
        data = self.cleaned_data
        child = is_child(data.get("date_of_birth"), data.get("age_estimate"), data.get("first_contact_date"))
        has_identity = bool(data.get("given_name", "").strip() or data.get("document_number", "").strip())
        return has_identity and (child or data.get("consent") == YES)


class NotificationForm(AgencyChoiceForm):
    """An anonymous notification: no identity fields at all."""

    first_contact_date = forms.DateField(label=_("Date of first contact"), widget=DateInput())
    sex = forms.ChoiceField(
        label=_("Sex / gender"), choices=picklist("prs_Gender"), initial="non_specified_unknown"
    )
    age = forms.IntegerField(
        label=_("Age (estimate)"),
        required=False,
        min_value=0,
        max_value=120,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    citizenship = forms.ChoiceField(label=_("Citizenship"), choices=country_choices, required=False)
    region = forms.ChoiceField(label=_("Region"), choices=region_choices, required=False)
    exploitation_forms = forms.MultipleChoiceField(
        label=_("Forms of exploitation"),
        choices=picklist("vic_TypeOfExploitation"),
        required=False,
        widget=_checkboxes(),
    )
    exploitation_country = forms.ChoiceField(
        label=_("Country of exploitation"), choices=country_choices, required=False
    )

    def __init__(self, *args: Any, access: Access | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["first_contact_date"].initial = timezone.localdate
        self.fields["first_contact_date"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.set_referring_agencies(access)


# --- the case list -------------------------------------------------------------------------------------


class CaseFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
        help_text=_("A reference, or its beginning."),
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=_blank(_("Any")) + list(CaseStatus.choices), required=False
    )
    form = forms.ChoiceField(
        label=_("Form of exploitation"),
        choices=lambda: _blank(_("Any")) + list(htcds_snake_choices("vic_TypeOfExploitation")),
        required=False,
    )
    region = forms.ChoiceField(
        label=_("Region"),
        choices=lambda: _blank(_("Any")) + list(active_profile().region_choices()),
        required=False,
    )
    child = forms.ChoiceField(
        label=_("Child"),
        choices=[("", _("Any")), (YES, _("Children only")), (NO, _("Adults only"))],
        required=False,
    )
    overdue = forms.BooleanField(label=_("Decision overdue"), required=False)
    agency = forms.ChoiceField(label=_("Owning agency"), choices=[], required=False)

    def __init__(
        self, *args: Any, agencies: Iterable[Agency] = (), identity: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if identity:
            self.fields["q"].help_text = _(
                "A reference or its beginning; or exactly as recorded: a full name, a full name followed by the date "
                "of birth (1990-05-31 or 31.05.1990), or a document number."
            )
        field = self.fields["agency"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _blank(_("Any")) + [(a.public_id, a.name) for a in agencies]

    def value(self, name: str) -> Any:
        """The cleaned value of a filter, or nothing when it was not valid (an invalid filter is ignored)."""
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name)


_DATE_AT_END = re.compile(r"^(?P<name>.*?)[\s,]+(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4})$")


def split_name_and_date(text: str) -> tuple[str, dt.date | None]:
    """ "Nino Beridze 1990-05-31" (or 31.05.1990) -> ("Nino Beridze", date); otherwise (text, None)."""
    match = _DATE_AT_END.match(text.strip())
    if not match:
        return text.strip(), None
    raw = match.group("date")
    try:
        if "-" in raw:
            born = dt.date.fromisoformat(raw)
        else:
            day, month, year = (int(p) for p in re.split(r"[./]", raw))
            born = dt.date(year, month, day)
    except ValueError:
        return text.strip(), None
    return match.group("name").strip(), born


# --- editing a case ------------------------------------------------------------------------------------


class CaseEditForm(forms.Form):
    """Non-identifying case fields (HTCDS victim context). `version` carries the version the user loaded."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    exploitation_forms = forms.MultipleChoiceField(
        label=_("Forms of exploitation"),
        choices=picklist("vic_TypeOfExploitation"),
        required=False,
        widget=_checkboxes(),
    )
    forced_labour_industry = forms.ChoiceField(
        label=_("Forced labour industry"), choices=blank_picklist("vic_ForcedLabourIndustry"), required=False
    )
    sexual_exploitation_types = forms.MultipleChoiceField(
        label=_("Type of sexual exploitation"),
        choices=picklist("vic_TypeOfSexExploitation"),
        required=False,
        widget=_checkboxes(),
    )
    methods_of_control = forms.MultipleChoiceField(
        label=_("Methods of control"),
        choices=picklist("vic_MethodsOfControl"),
        required=False,
        widget=_checkboxes(),
    )
    methods_of_recruitment = forms.MultipleChoiceField(
        label=_("Methods of recruitment"),
        choices=picklist("vic_MethodOfRecruitment"),
        required=False,
        widget=_checkboxes(),
    )
    relationship_to_trafficker = forms.ChoiceField(
        label=_("Relationship to trafficker"),
        choices=blank_picklist("vic_RelationshipToTrafficker"),
        required=False,
    )
    perpetrator_roles = forms.MultipleChoiceField(
        label=_("Perpetrator roles"),
        choices=picklist("per_RoleInProcess"),
        required=False,
        widget=_checkboxes(),
    )
    region = forms.ChoiceField(label=_("Region"), choices=region_choices, required=False)
    narrative = forms.CharField(label=_("What happened"), required=False, widget=_area(6))
    guardian = forms.CharField(label=_("Guardian (for a child)"), required=False, widget=_area(2))
    case_worker = UserChoiceField(
        label=_("Case worker"),
        queryset=User.objects.none(),
        to_field_name="public_id",
        required=False,
        empty_label=_("Not assigned"),
    )

    FIELDSETS = (
        (_("Exploitation"), ("exploitation_forms", "forced_labour_industry", "sexual_exploitation_types")),
        (
            _("Recruitment and control"),
            (
                "methods_of_recruitment",
                "methods_of_control",
                "relationship_to_trafficker",
                "perpetrator_roles",
            ),
        ),
        (_("The case"), ("region", "narrative", "guardian", "case_worker")),
    )
    CASE_FIELDS = (
        "forced_labour_industry",
        "sexual_exploitation_types",
        "methods_of_control",
        "methods_of_recruitment",
        "relationship_to_trafficker",
        "perpetrator_roles",
        "region",
        "narrative",
        "guardian",
        "case_worker",
    )

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        self.case = case
        kwargs.setdefault("initial", self.initial_for(case))
        super().__init__(*args, **kwargs)
        field = self.fields["case_worker"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = case_workers_of(case.owning_agency)

    @staticmethod
    def initial_for(case: Case) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(case, name) for name in CaseEditForm.CASE_FIELDS if name != "case_worker"
        }
        initial["case_worker"] = case.case_worker.public_id if case.case_worker else None
        initial["exploitation_forms"] = sorted(case.exploitation_forms.values_list("form", flat=True))
        initial["version"] = case.version
        return initial

    def changes(self) -> tuple[dict[str, Any], list[str] | None]:
        """The fields the user changed, and the forms of exploitation if those changed (else None)."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        for name in self.CASE_FIELDS:
            if name not in self.fields:
                continue
            new, old = data.get(name), getattr(self.case, name)
            if name in (
                "sexual_exploitation_types",
                "methods_of_control",
                "methods_of_recruitment",
                "perpetrator_roles",
            ):
                if sorted(new or []) != sorted(old or []):
                    changes[name] = list(new or [])
            elif name == "case_worker":
                if (new.pk if new else None) != self.case.case_worker_id:
                    changes[name] = new
            elif (new or "") != (old or ""):
                changes[name] = new or ""
        forms_now = sorted(self.case.exploitation_forms.values_list("form", flat=True))
        new_forms = sorted(data.get("exploitation_forms") or [])
        return changes, (new_forms if new_forms != forms_now else None)

    def fieldsets(self) -> list[tuple[str | Promise, list[forms.BoundField]]]:
        return [(legend, [self[n] for n in names if n in self.fields]) for legend, names in self.FIELDSETS]


CONTACT_KINDS = [
    ("phone", _("Phone")),
    ("email", _("E-mail")),
    ("messenger", _("Messenger")),
    ("other", _("Other")),
]
MAX_ROWS = 10
_ROW = re.compile(r"^(?:doc|contact)_\w+_(\d+)$")


def _rows_of(person: Person, name: str) -> list[dict[str, Any]]:
    """The person's documents or contacts (encrypted JSON lists of {type/kind, number/value})."""
    rows: Any = getattr(person, name) or []
    return [row for row in rows if isinstance(row, dict)]


class IdentityEditForm(forms.Form):
    """The person's identity. Documents and contacts are rows: the ones known, plus one empty row to add."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    given_name = forms.CharField(label=_("Given name"), max_length=200, widget=_text())
    family_name = forms.CharField(label=_("Family name"), max_length=200, required=False, widget=_text())
    other_names = forms.CharField(
        label=_("Other names and spellings"), required=False, widget=_area(2), help_text=_("One per line.")
    )
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DateInput())
    sex = forms.ChoiceField(label=_("Sex / gender"), choices=picklist("prs_Gender"))
    citizenship = forms.ChoiceField(label=_("Citizenship"), choices=country_choices, required=False)
    languages = forms.MultipleChoiceField(
        label=_("Languages the person speaks"),
        choices=language_choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    address = forms.CharField(label=_("Address"), required=False, widget=_area(2))

    PERSON_FIELDS = (
        "given_name",
        "family_name",
        "other_names",
        "date_of_birth",
        "sex",
        "citizenship",
        "languages",
        "address",
        "documents",
        "contacts",
    )

    def __init__(self, *args: Any, person: Person, version: int, **kwargs: Any) -> None:
        self.person = person
        kwargs.setdefault("initial", self.initial_for(person, version))
        super().__init__(*args, **kwargs)
        posted = {int(m.group(1)) for key in (self.data or {}) if (m := _ROW.match(key))}
        documents = max(len(_rows_of(person, "documents")) + 1, max(posted, default=-1) + 1)
        contacts = max(len(_rows_of(person, "contacts")) + 1, max(posted, default=-1) + 1)
        self.document_rows = min(documents, MAX_ROWS)
        self.contact_rows = min(contacts, MAX_ROWS)
        for i in range(self.document_rows):
            self.fields[f"doc_type_{i}"] = forms.ChoiceField(
                label=_("Document type"), choices=_blank() + list(DocumentType.choices), required=False
            )
            self.fields[f"doc_number_{i}"] = forms.CharField(
                label=_("Document number"), max_length=60, required=False, widget=_text()
            )
        for i in range(self.contact_rows):
            self.fields[f"contact_kind_{i}"] = forms.ChoiceField(
                label=_("Kind of contact"), choices=CONTACT_KINDS, required=False
            )
            self.fields[f"contact_value_{i}"] = forms.CharField(
                label=_("Contact"), max_length=200, required=False, widget=_text()
            )
        self.fields["date_of_birth"].widget.attrs["max"] = timezone.localdate().isoformat()

    @staticmethod
    def initial_for(person: Person, version: int) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "version": version,
            "given_name": person.given_name,
            "family_name": person.family_name,
            "other_names": "\n".join(str(n) for n in person.other_names),
            "date_of_birth": person.date_of_birth,
            "sex": person.sex,
            "citizenship": person.citizenship,
            "languages": list(person.languages),
            "address": person.address,
        }
        documents: list[dict[str, Any]] = list(_rows_of(person, "documents"))
        contacts: list[dict[str, Any]] = list(_rows_of(person, "contacts"))
        for i, doc in enumerate(documents[:MAX_ROWS]):
            initial[f"doc_type_{i}"] = doc.get("type", "")
            initial[f"doc_number_{i}"] = doc.get("number", "")
        for i, contact in enumerate(contacts[:MAX_ROWS]):
            initial[f"contact_kind_{i}"] = contact.get("kind", "")
            initial[f"contact_value_{i}"] = contact.get("value", "")
        return initial

    def document_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"doc_type_{i}"], self[f"doc_number_{i}"]) for i in range(self.document_rows)]

    def contact_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"contact_kind_{i}"], self[f"contact_value_{i}"]) for i in range(self.contact_rows)]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        documents = [
            {
                "type": data.get(f"doc_type_{i}") or DocumentType.OTHER,
                "number": data[f"doc_number_{i}"].strip(),
            }
            for i in range(self.document_rows)
            if data.get(f"doc_number_{i}", "").strip()
        ]
        contacts = [
            {"kind": data.get(f"contact_kind_{i}") or "other", "value": data[f"contact_value_{i}"].strip()}
            for i in range(self.contact_rows)
            if data.get(f"contact_value_{i}", "").strip()
        ]
        return {
            "given_name": data["given_name"].strip(),
            "family_name": data.get("family_name", "").strip(),
            "other_names": [n.strip() for n in data.get("other_names", "").splitlines() if n.strip()],
            "date_of_birth": data.get("date_of_birth"),
            "sex": data["sex"],
            "citizenship": data.get("citizenship", ""),
            "languages": list(data.get("languages") or []),
            "address": data.get("address", "").strip(),
            "documents": documents,
            "contacts": contacts,
        }

    def changes(self) -> dict[str, Any]:
        return {name: value for name, value in self.values().items() if getattr(self.person, name) != value}


# --- consent --------------------------------------------------------------------------------------------


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    given = forms.ChoiceField(
        label=_("Answer"), choices=[(YES, _("Given")), (NO, _("Refused"))], widget=forms.RadioSelect
    )
    agency = forms.ModelChoiceField(
        label=_("Agency (for a referral)"),
        queryset=Agency.objects.none(),
        to_field_name="public_id",
        required=False,
    )
    country = forms.ChoiceField(
        label=_("Country (for sharing with another country)"),
        required=False,
        help_text=_(
            "Required when the purpose is sharing with another country: the consent covers that country only."
        ),
    )
    basis = forms.ChoiceField(label=_("Basis"), choices=ConsentBasis.choices, initial=ConsentBasis.CONSENT)
    justification = forms.CharField(
        label=_("Justification"),
        required=False,
        widget=_area(2),
        help_text=_("Required when the basis is the law: name the legal provision."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["agency"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Agency.objects.filter(is_active=True).order_by("name")
        own = active_profile().code
        country = self.fields["country"]
        assert isinstance(country, forms.ChoiceField)
        country.choices = [(code, name) for code, name in country_choices() if code != own]
