"""Serializers of the cases API. Output never carries primary keys: every object is named by its public id.

Identifying values (names, dates of birth, documents, contacts, free text, file names) appear only in the
serializers marked so below, and the views put them in a response only for a user who may read the identity of
the case, after recording the read in the audit log. Request serializers check shapes and picklist codes; the
services check the rules of the mechanism.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from opennrm.accounts.models import Agency
from opennrm.cases.choices import (
    CaseStatus,
    ClosureReason,
    ConsentBasis,
    ConsentPurpose,
    DecisionOutcome,
    DocumentType,
    htcds_snake_choices,
)
from opennrm.cases.models import (
    Attachment,
    Case,
    CaseEvent,
    Compensation,
    Consent,
    Decision,
    Note,
    Notification,
    Screening,
    SupportPlanItem,
    TraffickingEvent,
)
from opennrm.core.reference import is_valid_language


def _choices(picklist: str) -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in htcds_snake_choices(picklist)]


EXPLOITATION_FORMS = _choices("vic_TypeOfExploitation")
SEX = _choices("prs_Gender")


# --- shared pieces ----------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer[Any]):
    """A refused act: the translated message of the rule, and a stable code for programs."""

    detail = serializers.CharField()
    code = serializers.CharField()


class CaseAgencySerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()


class UserRefSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    username = serializers.CharField()


class IdentifyingFieldsMixin:
    """Leaves out the fields in `identifying` (they are not even read from the object) unless the view put
    `identity=True` in the context, which it does only for a user who may read the identity of the case and
    after recording the read in the audit log. The schema still documents them, as optional."""

    identifying: tuple[str, ...] = ()
    context: dict[str, Any]

    @property
    def _readable_fields(self) -> list[serializers.Field]:
        shown = self.context.get("identity", False) is True
        fields: list[serializers.Field] = super()._readable_fields  # type: ignore[misc]
        return [field for field in fields if shown or field.field_name not in self.identifying]


# --- cases ----------------------------------------------------------------------------------------------


class CaseListSerializer(serializers.ModelSerializer[Case]):
    """A case in a list: no identifying data."""

    id = serializers.CharField(source="public_id", read_only=True)
    owning_agency = CaseAgencySerializer(read_only=True)
    referring_agency = CaseAgencySerializer(read_only=True)
    exploitation_forms = serializers.SerializerMethodField()
    decision_deadline = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Deadline of the open decision request, if any."
    )
    overdue = serializers.BooleanField(
        read_only=True, help_text="The open decision request is past its deadline."
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "reference",
            "status",
            "trafficking_status",
            "is_child",
            "age_group",
            "region",
            "first_contact_date",
            "owning_agency",
            "referring_agency",
            "exploitation_forms",
            "decision_deadline",
            "overdue",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_exploitation_forms(self, case: Case) -> list[str]:
        return sorted(e.form for e in case.exploitation_forms.all())


class TraffickingEventSerializer(serializers.ModelSerializer[TraffickingEvent]):
    id = serializers.CharField(source="public_id", read_only=True)

    class Meta:
        model = TraffickingEvent
        fields = ["id", "type", "country", "place", "date"]  # `details` is free text: not here


class DecisionSerializer(serializers.ModelSerializer[Decision]):
    """A request for an identification decision and its outcome (the reasons are free text: not here)."""

    id = serializers.CharField(source="public_id", read_only=True)
    case = serializers.CharField(source="case.public_id", read_only=True)
    appeal_of = serializers.CharField(source="appeal_of.public_id", read_only=True, allow_null=True)

    class Meta:
        model = Decision
        fields = [
            "id",
            "case",
            "route",
            "requested_at",
            "deadline_at",
            "deadline_rule",
            "is_appeal",
            "appeal_of",
            "outcome",
            "decided_at",
            "members",
            "valid_until",
        ]
        read_only_fields = fields


class CompensationSerializer(serializers.ModelSerializer[Compensation]):
    id = serializers.CharField(source="public_id", read_only=True)
    case = serializers.CharField(source="case.public_id", read_only=True)

    class Meta:
        model = Compensation
        fields = ["id", "case", "amount", "currency", "approved_at", "paid_at", "payment_reference"]
        read_only_fields = fields


class CaseDetailSerializer(CaseListSerializer):
    """A case: everything but identifying data (see the identity endpoint for that)."""

    case_worker = UserRefSerializer(read_only=True, allow_null=True)
    sex = serializers.CharField(source="person_sex", read_only=True)
    citizenship = serializers.CharField(source="person_citizenship", read_only=True)
    languages = serializers.ListField(
        child=serializers.CharField(), source="person_languages", read_only=True
    )
    events = TraffickingEventSerializer(many=True, read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)
    compensation = CompensationSerializer(read_only=True, allow_null=True)

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "country",
            "case_worker",
            "sex",
            "citizenship",
            "languages",
            "age_at_exploitation",
            "forced_labour_industry",
            "sexual_exploitation_types",
            "methods_of_control",
            "methods_of_recruitment",
            "relationship_to_trafficker",
            "perpetrator_roles",
            "events",
            "decisions",
            "reflection_period_ends",
            "identified_at",
            "identification_route",
            "status_valid_until",
            "closed_at",
            "closure_reason",
            "follow_up_date",
            "compensation",
            "version",
        ]
        read_only_fields = fields


class IdentitySerializer(serializers.Serializer[Any]):
    """IDENTIFYING. The person's identity and the case's free text; each read is audited with its field names."""

    given_name = serializers.CharField(required=False)
    family_name = serializers.CharField(required=False)
    other_names = serializers.ListField(child=serializers.CharField(), required=False)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    documents = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()), required=False
    )
    contacts = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()), required=False
    )
    address = serializers.CharField(required=False)
    narrative = serializers.CharField(required=False)
    guardian = serializers.CharField(required=False)


class IntakeSerializer(serializers.Serializer[Any]):
    """A referral of a presumed victim (the fields of the web intake form)."""

    given_name = serializers.CharField(max_length=200, allow_blank=True)
    family_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    age_estimate = serializers.IntegerField(required=False, allow_null=True, default=None)
    sex = serializers.ChoiceField(choices=SEX, default="non_specified_unknown")
    citizenship = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    languages = serializers.ListField(child=serializers.CharField(max_length=8), required=False, default=list)
    phone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    document_type = serializers.ChoiceField(
        choices=DocumentType.choices, required=False, allow_blank=True, default=""
    )
    document_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    first_contact_date = serializers.DateField(required=False, allow_null=True, default=None)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    exploitation_forms = serializers.ListField(
        child=serializers.ChoiceField(choices=EXPLOITATION_FORMS), required=False, default=list
    )
    exploitation_country = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    narrative = serializers.CharField(required=False, allow_blank=True, default="")
    guardian = serializers.CharField(required=False, allow_blank=True, default="")
    owning_agency = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Agency.objects.filter(is_active=True),
        help_text="Agency that runs the case.",
    )
    referring_agency = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        help_text="Your agency that refers (needed only if you refer for more than one agency).",
    )
    consent_given = serializers.BooleanField(
        help_text="The adult consents to the processing of their data. Without consent, file an anonymous "
        "notification instead; a child is referred without consent, in their best interests."
    )

    def validate_languages(self, value: list[str]) -> list[str]:
        unknown = [code for code in value if not is_valid_language(code)]
        if unknown:
            raise serializers.ValidationError([f"{code!r}" for code in unknown])
        return value


class NotificationInputSerializer(serializers.Serializer[Any]):
    first_contact_date = serializers.DateField()
    sex = serializers.ChoiceField(choices=SEX)
    age = serializers.IntegerField(required=False, allow_null=True, default=None)
    citizenship = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    exploitation_forms = serializers.ListField(
        child=serializers.ChoiceField(choices=EXPLOITATION_FORMS), required=False, default=list
    )
    exploitation_country = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    agency = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        help_text="Your agency that notifies (needed only if you refer for more than one agency).",
    )


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    id = serializers.CharField(source="public_id", read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "country",
            "region",
            "first_contact_date",
            "sex",
            "age_group",
            "citizenship",
            "exploitation_forms",
            "exploitation_country",
            "created_at",
        ]
        read_only_fields = fields


class CaseFilterSerializer(serializers.Serializer[Any]):
    """Query parameters of the case list. Identity is never searched here (see POST /cases/search/)."""

    status = serializers.ChoiceField(choices=CaseStatus.choices, required=False)
    form = serializers.ChoiceField(
        choices=EXPLOITATION_FORMS, required=False, help_text="Form of exploitation."
    )
    region = serializers.CharField(required=False)
    child = serializers.BooleanField(required=False, allow_null=True, default=None)
    overdue = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Has an open decision request past its deadline.",
    )
    agency = serializers.CharField(required=False, help_text="Public id of the owning agency.")
    reference = serializers.CharField(required=False, help_text="Beginning of the reference, e.g. GE-2026-0.")


class CaseSearchSerializer(serializers.Serializer[Any]):
    """Exact search by identity through blind indexes (after normalisation: case, spaces, script)."""

    name = serializers.CharField(required=False, allow_blank=True, default="", help_text="Full name.")
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    document = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Document number."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["name"].strip() and not attrs["document"].strip():
            raise serializers.ValidationError(
                {"name": [serializers.Field.default_error_messages["required"]]}
            )
        if attrs["date_of_birth"] and not attrs["name"].strip():
            raise serializers.ValidationError(
                {"name": [serializers.Field.default_error_messages["required"]]}
            )
        return attrs


class CaseUpdateSerializer(serializers.Serializer[Any]):
    """A change to the case's non-identifying fields (and its narrative and guardian), with the version read."""

    version = serializers.IntegerField(min_value=1, help_text="The `version` of the case you are changing.")
    region = serializers.CharField(max_length=10, required=False, allow_blank=True)
    forced_labour_industry = serializers.ChoiceField(
        choices=_choices("vic_ForcedLabourIndustry"), required=False, allow_blank=True
    )
    sexual_exploitation_types = serializers.ListField(
        child=serializers.ChoiceField(choices=_choices("vic_TypeOfSexExploitation")), required=False
    )
    methods_of_control = serializers.ListField(
        child=serializers.ChoiceField(choices=_choices("vic_MethodsOfControl")), required=False
    )
    methods_of_recruitment = serializers.ListField(
        child=serializers.ChoiceField(choices=_choices("vic_MethodOfRecruitment")), required=False
    )
    relationship_to_trafficker = serializers.ChoiceField(
        choices=_choices("vic_RelationshipToTrafficker"), required=False, allow_blank=True
    )
    perpetrator_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=_choices("per_RoleInProcess")), required=False
    )
    narrative = serializers.CharField(required=False, allow_blank=True)
    guardian = serializers.CharField(required=False, allow_blank=True)
    case_worker = serializers.CharField(
        required=False, allow_null=True, help_text="Public id of a case worker of the owning agency, or null."
    )
    exploitation_forms = serializers.ListField(
        child=serializers.ChoiceField(choices=EXPLOITATION_FORMS), required=False
    )


class DocumentSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=DocumentType.choices)
    number = serializers.CharField(max_length=64)


class ContactSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(max_length=32)
    value = serializers.CharField(max_length=200)


class IdentityUpdateSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(min_value=1, help_text="The `version` of the case you are changing.")
    given_name = serializers.CharField(max_length=200, required=False)
    family_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    other_names = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    documents = DocumentSerializer(many=True, required=False)
    contacts = ContactSerializer(many=True, required=False)
    address = serializers.CharField(required=False, allow_blank=True)
    sex = serializers.ChoiceField(choices=SEX, required=False)
    citizenship = serializers.CharField(max_length=2, required=False, allow_blank=True)
    other_citizenships = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    languages = serializers.ListField(child=serializers.CharField(max_length=8), required=False)

    def validate_languages(self, value: list[str]) -> list[str]:
        return IntakeSerializer.validate_languages(self, value)  # type: ignore[arg-type]


class IdentityUpdatedSerializer(serializers.Serializer[Any]):
    """The new version of the case and the names (not values) of the fields changed."""

    id = serializers.CharField()
    version = serializers.IntegerField()
    updated = serializers.ListField(child=serializers.CharField())


# --- consent ---------------------------------------------------------------------------------------------


class ConsentSerializer(IdentifyingFieldsMixin, serializers.ModelSerializer[Consent]):
    identifying = ("justification",)

    id = serializers.CharField(source="public_id", read_only=True)
    agency = CaseAgencySerializer(read_only=True, allow_null=True)
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)
    recorded_at = serializers.DateTimeField(source="created_at", read_only=True)
    justification = serializers.CharField(required=False)

    class Meta:
        model = Consent
        fields = [
            "id",
            "purpose",
            "agency",
            "country",
            "basis",
            "given",
            "recorded_by",
            "recorded_at",
            "withdrawn_at",
            "justification",
        ]
        read_only_fields = fields


class ConsentInputSerializer(serializers.Serializer[Any]):
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    given = serializers.BooleanField()
    agency = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Agency.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="For a referral: the agency the consent is for.",
    )
    country = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        default="",
        help_text="For sharing with another country (purpose cross_border, where it is required): the ISO 3166-1 "
        "code of the country the consent is for.",
    )
    basis = serializers.ChoiceField(choices=ConsentBasis.choices, default=ConsentBasis.CONSENT)
    justification = serializers.CharField(required=False, allow_blank=True, default="")


# --- screening ---------------------------------------------------------------------------------------


class IndicatorSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    strength = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)


class DimensionSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.CharField(allow_null=True)
    indicators = IndicatorSerializer(many=True)


class VerificationSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    summary = serializers.CharField()


class InstrumentListSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    population = serializers.CharField()
    forms_of_exploitation = serializers.ListField(child=serializers.CharField())
    title = serializers.CharField()
    verification = VerificationSerializer()
    dimensions = DimensionSerializer(many=True)


class InstrumentSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    version = serializers.CharField()
    title = serializers.CharField()
    publisher = serializers.CharField()
    year = serializers.IntegerField()
    verification = VerificationSerializer()
    rule = serializers.CharField(
        help_text="`dimensions` (ILO-EC) or `count` (threshold chosen by the country)."
    )
    lists = InstrumentListSerializer(many=True)


class EvaluateInputSerializer(serializers.Serializer[Any]):
    instrument_id = serializers.CharField(max_length=64)
    instrument_version = serializers.CharField(max_length=32)
    list_id = serializers.CharField(max_length=64)
    found = serializers.ListField(child=serializers.CharField(max_length=200), allow_empty=True)


class ScreeningInputSerializer(EvaluateInputSerializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class FoundIndicatorSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    strength = serializers.CharField(allow_null=True)


class DimensionResultSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.CharField(allow_null=True)
    indicators_loaded = serializers.IntegerField()
    found = FoundIndicatorSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    positive = serializers.BooleanField(allow_null=True)


class RequirementResultSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    at_least = serializers.IntegerField()
    positive_dimensions = serializers.ListField(child=serializers.CharField())
    dimensions_without_indicators = serializers.ListField(child=serializers.CharField())
    met = serializers.BooleanField()


class ScreeningResultSerializer(serializers.Serializer[Any]):
    """The conclusion of an instrument's rule: advice to the decision maker, never the decision."""

    conclusion = serializers.CharField(help_text="presumed_victim, not_indicated or cannot_conclude")
    reason_code = serializers.CharField()
    reason = serializers.CharField()
    caveats = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()
    found = serializers.ListField(child=serializers.CharField())
    found_count = serializers.IntegerField()
    dimensions = DimensionResultSerializer(many=True)
    requirements = RequirementResultSerializer(many=True)
    rule = serializers.DictField()
    instrument = serializers.DictField()
    list = serializers.DictField()


class ScreeningSerializer(IdentifyingFieldsMixin, serializers.ModelSerializer[Screening]):
    identifying = ("notes",)

    id = serializers.CharField(source="public_id", read_only=True)
    screened_by = serializers.CharField(source="screened_by.username", read_only=True)
    result = ScreeningResultSerializer(read_only=True)
    notes = serializers.CharField(required=False)

    class Meta:
        model = Screening
        fields = [
            "id",
            "instrument_id",
            "instrument_version",
            "list_id",
            "found",
            "conclusion",
            "result",
            "screened_by",
            "created_at",
            "notes",
        ]
        read_only_fields = fields


# --- decisions -----------------------------------------------------------------------------------------


class DecisionRequestInputSerializer(serializers.Serializer[Any]):
    route = serializers.CharField(
        max_length=40, help_text="Key of an identification authority of the profile."
    )


class DecideInputSerializer(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
    reasons = serializers.CharField(allow_blank=True)
    members = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)


class QueueCaseSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    reference = serializers.CharField()
    is_child = serializers.BooleanField()
    owning_agency = CaseAgencySerializer()


class QueueItemSerializer(serializers.Serializer[Any]):
    decision = DecisionSerializer()
    case = QueueCaseSerializer(source="decision.case")
    overdue = serializers.BooleanField()
    remaining_seconds = serializers.IntegerField()


# --- assistance, closure ---------------------------------------------------------------------------------


class PlanItemSerializer(IdentifyingFieldsMixin, serializers.ModelSerializer[SupportPlanItem]):
    identifying = ("objective", "action")

    id = serializers.CharField(source="public_id", read_only=True)
    objective = serializers.CharField(required=False)
    action = serializers.CharField(required=False)

    class Meta:
        model = SupportPlanItem
        fields = ["id", "type", "planned_end", "actual_end", "created_at", "objective", "action"]
        read_only_fields = fields


class PlanItemInputSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=_choices("spl_Type"))
    objective = serializers.CharField(allow_blank=True)
    action = serializers.CharField(required=False, allow_blank=True, default="")
    planned_end = serializers.DateField(required=False, allow_null=True, default=None)


class CompletePlanItemSerializer(serializers.Serializer[Any]):
    actual_end = serializers.DateField()


class NoteSerializer(serializers.ModelSerializer[Note]):
    """IDENTIFYING (free text)."""

    id = serializers.CharField(source="public_id", read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Note
        fields = ["id", "body", "author", "created_at"]
        read_only_fields = fields


class NoteInputSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(allow_blank=True)


class AttachmentSerializer(serializers.ModelSerializer[Attachment]):
    """IDENTIFYING (the file name may name the person)."""

    id = serializers.CharField(source="public_id", read_only=True)
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "uploaded_by", "created_at"]
        read_only_fields = fields


class AttachmentInputSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="PDF, JPEG, PNG or plain text.")


class PayInputSerializer(serializers.Serializer[Any]):
    payment_reference = serializers.CharField(max_length=64, allow_blank=True)


class CloseInputSerializer(serializers.Serializer[Any]):
    reason = serializers.ChoiceField(choices=ClosureReason.choices)
    follow_up_date = serializers.DateField(required=False, allow_null=True, default=None)


class ReopenInputSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(allow_blank=True, help_text="Why the case is reopened (kept as a note).")


class TimelineEventSerializer(serializers.ModelSerializer[CaseEvent]):
    actor = serializers.SerializerMethodField()
    agency = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = ["at", "kind", "actor", "agency", "data"]
        read_only_fields = fields

    def get_actor(self, event: CaseEvent) -> str | None:
        return event.actor.username if event.actor else None

    def get_agency(self, event: CaseEvent) -> str | None:
        return event.agency.name if event.agency else None
