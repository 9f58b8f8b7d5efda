"""REST API of labour inspections (under /api/v1/). Thin views: reads start from `selectors.visible_inspections`,
writes call the services, and every object is named by its public id.

- An inspection (or a screening of one) the user may not see answers 404, exactly like one that does not exist;
  so does one they may see but not act on (national oversight is read-only). A collection-level act the user's
  role never allows (recording an inspection, the statistics) answers 403.
- A rule that refuses an act (`DomainError`) answers 400 `{"detail": message, "code": code}` in the request's
  language; an edit over someone else's (`ConcurrentEditError`) answers 409. A refused act changes nothing.
- The employer's name and identifiers and the findings go out only to the labour inspectors who may act on the
  inspection, and each read is audited. Screenings never carry identity: a worker is identified only in the case
  a referral creates.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import Perm
from opennrm.cases.api import WholeBodyPatchSchema
from opennrm.cases.forms import owning_agencies
from opennrm.cases.serializers import ErrorSerializer
from opennrm.cases.services import IntakeData
from opennrm.core import audit
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.inspections import selectors, services
from opennrm.inspections.models import EmployerIdentifier, Inspection, WorkerScreening

ENCRYPTED = ("employer_name", "employer_identifiers", "findings")
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Refused by a rule, or invalid input (field errors)."),
    404: OpenApiResponse(description="Not found, or not yours to see or to act on."),
}
CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="Changed since you read `version`.")}
FORBIDDEN = {403: OpenApiResponse(description="Your role does not allow this.")}


# --- serializers --------------------------------------------------------------------------------------------


class InspectionAgencySerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()


class InspectionInspectorSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    username = serializers.CharField()


class EmployerIdentifierSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=EmployerIdentifier.choices)
    value = serializers.CharField(max_length=64)


class InspectionSerializer(serializers.Serializer[Any]):
    """An inspection, without the employer's identity and the findings."""

    id = serializers.CharField(source="public_id")
    agency = InspectionAgencySerializer()
    date = serializers.DateField()
    sector = serializers.CharField()
    region = serializers.CharField()
    joint_with_police = serializers.BooleanField()
    workers_present = serializers.IntegerField()
    workers_interviewed = serializers.IntegerField()
    inspectors = InspectionInspectorSerializer(many=True, source="inspectors.all")
    screened = serializers.IntegerField(help_text="Workers screened (completed, referred or notified).")
    presumed = serializers.IntegerField(help_text="Presumed victims found.")
    drafts = serializers.IntegerField(help_text="Screenings still in draft.")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class InspectionEmployerSerializer(InspectionSerializer):
    """An inspection with the employer's identity and the findings: for its labour inspectors only (the read is
    audited). Anyone else gets the fields of `InspectionSerializer`."""

    employer_name = serializers.CharField()
    employer_identifiers = EmployerIdentifierSerializer(many=True)
    findings = serializers.CharField()


class InspectionInputSerializer(serializers.Serializer[Any]):
    agency = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Public id of your labour inspection agency; needed only if you record for more than one.",
    )
    inspectors = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="Public ids of the inspectors of the agency who took part (default: you).",
    )
    employer_name = serializers.CharField(max_length=200, allow_blank=True)
    employer_identifiers = EmployerIdentifierSerializer(many=True, required=False, default=list)
    sector = serializers.CharField(
        max_length=80, help_text="HTCDS vic_ForcedLabourIndustry, lower snake case."
    )
    region = serializers.CharField(max_length=10, help_text="ISO 3166-2 region of the country profile.")
    date = serializers.DateField()
    joint_with_police = serializers.BooleanField(required=False, default=False)
    workers_present = serializers.IntegerField()
    workers_interviewed = serializers.IntegerField()
    findings = serializers.CharField(required=False, allow_blank=True, default="")


class InspectionUpdateSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="The version you read.")
    inspectors = serializers.ListField(child=serializers.CharField(), required=False)
    employer_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    employer_identifiers = EmployerIdentifierSerializer(many=True, required=False)
    sector = serializers.CharField(max_length=80, required=False)
    region = serializers.CharField(max_length=10, required=False)
    date = serializers.DateField(required=False)
    joint_with_police = serializers.BooleanField(required=False)
    workers_present = serializers.IntegerField(required=False)
    workers_interviewed = serializers.IntegerField(required=False)
    findings = serializers.CharField(required=False, allow_blank=True)


class WorkerScreeningSerializer(serializers.ModelSerializer[WorkerScreening]):
    """A worker screened under a pseudonym: no identity, ever."""

    id = serializers.CharField(source="public_id", read_only=True)
    inspection = serializers.CharField(source="inspection.public_id", read_only=True)
    case = serializers.SerializerMethodField()
    notification = serializers.SerializerMethodField()

    class Meta:
        model = WorkerScreening
        fields = [
            "id",
            "inspection",
            "pseudonym",
            "age",
            "age_group",
            "sex",
            "citizenship",
            "instrument_id",
            "instrument_version",
            "instrument_digest",
            "list_id",
            "population",
            "found",
            "result",
            "conclusion",
            "status",
            "consent_to_referral",
            "case",
            "notification",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_case(self, obj: WorkerScreening) -> str | None:
        """Reference of the case the referral created."""
        return obj.case.reference if obj.case_id and obj.case else None

    def get_notification(self, obj: WorkerScreening) -> str | None:
        """Public id of the anonymous notification filed."""
        return obj.notification.public_id if obj.notification_id and obj.notification else None


class WorkerScreeningStartSerializer(serializers.Serializer[Any]):
    instrument = serializers.CharField(max_length=64)
    version = serializers.CharField(max_length=32)
    list = serializers.CharField(max_length=64)
    age = serializers.IntegerField(required=False, allow_null=True, default=None)
    sex = serializers.CharField(max_length=32, required=False, default="non_specified_unknown")
    citizenship = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")


class WorkerScreeningDraftSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="The version you read.")
    found = serializers.ListField(child=serializers.CharField(max_length=200), allow_empty=True)


class WorkerScreeningCompleteSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="The version you read.")
    found = serializers.ListField(child=serializers.CharField(max_length=200), required=False)


class WorkerIdentitySerializer(serializers.Serializer[Any]):
    given_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    family_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    age_estimate = serializers.IntegerField(required=False, allow_null=True, default=None)
    sex = serializers.CharField(max_length=32, required=False, default="non_specified_unknown")
    citizenship = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    languages = serializers.ListField(child=serializers.CharField(max_length=8), required=False, default=list)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    document_type = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    document_number = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    narrative = serializers.CharField(required=False, allow_blank=True, default="")
    guardian = serializers.CharField(required=False, allow_blank=True, default="")


class WorkerReferralSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="The version you read.")
    consent_given = serializers.BooleanField(
        help_text="The worker consents to be referred with their identity. An adult who does not: an anonymous "
        "notification is filed and `identity` is not kept. A child is referred in any case."
    )
    identity = WorkerIdentitySerializer(required=False, allow_null=True, default=None)
    owning_agency = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Agency.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="Agency that takes the case (one with case workers).",
    )

    def validate_owning_agency(self, value: Agency | None) -> Agency | None:
        if value is not None and not owning_agencies().filter(pk=value.pk).exists():
            raise serializers.ValidationError(
                serializers.SlugRelatedField.default_error_messages["does_not_exist"].format(
                    slug_name="id", value=value.public_id
                )
            )
        return value


# --- views ---------------------------------------------------------------------------------------------------


def _error(exc: DomainError) -> dict[str, str]:
    return {"detail": " ".join(str(m) for m in exc.messages), "code": exc.code or "invalid"}


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class InspectionsView(GenericAPIView[Any]):
    # Shared: access, look-ups that answer 404, domain errors as 400/409. (A comment, not a docstring: the
    # schema would show it as the description of every endpoint.)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ConcurrentEditError):
            return Response(_error(exc), status=status.HTTP_409_CONFLICT)
        if isinstance(exc, DomainError):
            return Response(_error(exc), status=status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)

    @property
    def access(self) -> Access:
        return request_access(self.request)

    @property
    def actor(self) -> User:
        return cast(User, self.request.user)

    def inspections(self, *, write: bool = False) -> QuerySet[Inspection]:
        access = self.access
        found = selectors.writable_inspections(access) if write else selectors.visible_inspections(access)
        return selectors.with_counts(found).select_related("agency").prefetch_related("inspectors")

    def inspection(self, public_id: str, *, write: bool = False) -> Inspection:
        inspection = self.inspections(write=write).filter(public_id=public_id).first()
        if inspection is None:
            raise Http404
        return inspection

    def screening(self, public_id: str, *, write: bool = False) -> WorkerScreening:
        access = self.access
        found = selectors.writable_screenings(access) if write else selectors.visible_screenings(access)
        screening = (
            found.select_related("inspection", "case", "notification")
            .defer(*(f"inspection__{name}" for name in ENCRYPTED), "case__narrative", "case__guardian")
            .filter(public_id=public_id)
            .first()
        )
        if screening is None:
            raise Http404
        return screening

    def detail(self, public_id: str, code: int = status.HTTP_200_OK) -> Response:
        inspection = self.inspection(public_id)
        employer = selectors.can_act(self.access, inspection)
        if employer:
            full = Inspection.objects.only("id", *ENCRYPTED).get(pk=inspection.pk)
            for name in ENCRYPTED:
                setattr(inspection, name, getattr(full, name))
            audit.record_read(
                actor=self.actor, target=inspection, fields=list(ENCRYPTED), action="inspection.employer.read"
            )
        serializer = InspectionEmployerSerializer if employer else InspectionSerializer
        return Response(serializer(inspection).data, status=code)

    def users(self, agency: Agency, public_ids: list[str]) -> list[User]:
        people = list(selectors.inspectors_of([agency]).filter(public_id__in=public_ids))
        missing = sorted(set(public_ids) - {u.public_id for u in people})
        if missing:
            message = serializers.SlugRelatedField.default_error_messages["does_not_exist"]
            raise serializers.ValidationError(
                {"inspectors": [message.format(slug_name="id", value=missing[0])]}
            )
        return people


class InspectionListView(InspectionsView):
    @extend_schema(
        tags=["inspections"],
        summary="Labour inspections you may see (no employer identity)",
        responses={200: InspectionSerializer(many=True), **ERRORS, **FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        if not selectors.may_list(self.access):
            raise exceptions.PermissionDenied()
        page = self.paginate_queryset(self.inspections().order_by("-date", "-created_at", "-id")) or []
        return self.get_paginated_response(InspectionSerializer(page, many=True).data)

    @extend_schema(
        tags=["inspections"],
        summary="Record a labour inspection",
        request=InspectionInputSerializer,
        responses={201: InspectionEmployerSerializer, **ERRORS, **FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        agencies = {a.public_id: a for a in selectors.recording_agencies(self.access)}
        if not agencies:
            raise exceptions.PermissionDenied()
        data = _valid(InspectionInputSerializer, request.data)
        wanted = data.pop("agency")
        if wanted not in agencies and not (not wanted and len(agencies) == 1):
            message = serializers.SlugRelatedField.default_error_messages["does_not_exist"]
            raise serializers.ValidationError(
                {"agency": [message.format(slug_name="id", value=wanted or "—")]}
            )
        agency = agencies[wanted] if wanted else next(iter(agencies.values()))
        people = self.users(agency, data.pop("inspectors"))
        inspection = services.record_inspection(
            actor=self.actor, agency=agency, inspectors=people or None, **data
        )
        return self.detail(inspection.public_id, status.HTTP_201_CREATED)


class InspectionDetailView(InspectionsView):
    schema = WholeBodyPatchSchema()

    @extend_schema(
        tags=["inspections"],
        summary="An inspection (the employer and findings for its inspectors: audited read)",
        responses={200: InspectionEmployerSerializer, **ERRORS},
    )
    def get(self, request: Request, public_id: str) -> Response:
        return self.detail(public_id)

    @extend_schema(
        tags=["inspections"],
        summary="Change an inspection (send the `version` you read)",
        request=InspectionUpdateSerializer,
        responses={200: InspectionEmployerSerializer, **ERRORS, **CONFLICT},
    )
    def patch(self, request: Request, public_id: str) -> Response:
        inspection = self.inspection(public_id, write=True)
        data = _valid(InspectionUpdateSerializer, request.data)
        version = data.pop("version")
        if "inspectors" in data:
            data["inspectors"] = self.users(inspection.agency, data["inspectors"])
        services.update_inspection(
            actor=self.actor, inspection=inspection, expected_version=version, changes=data
        )
        return self.detail(public_id)


class InspectionScreeningsView(InspectionsView):
    @extend_schema(
        tags=["inspections"],
        summary="Workers screened at an inspection",
        responses={200: WorkerScreeningSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, public_id: str) -> Response:
        inspection = self.inspection(public_id)
        rows = inspection.screenings.select_related("inspection", "case", "notification").defer(
            *(f"inspection__{name}" for name in ENCRYPTED), "case__narrative", "case__guardian"
        )
        page = self.paginate_queryset(rows.order_by("created_at", "id")) or []
        return self.get_paginated_response(WorkerScreeningSerializer(page, many=True).data)

    @extend_schema(
        tags=["inspections"],
        summary="Start screening a worker (a pseudonym, no identity)",
        request=WorkerScreeningStartSerializer,
        responses={201: WorkerScreeningSerializer, **ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        inspection = self.inspection(public_id, write=True)
        data = _valid(WorkerScreeningStartSerializer, request.data)
        screening = services.start_screening(
            actor=self.actor,
            inspection=inspection,
            instrument_id=data["instrument"],
            instrument_version=data["version"],
            list_id=data["list"],
            age=data["age"],
            sex=data["sex"],
            citizenship=data["citizenship"],
        )
        return Response(
            WorkerScreeningSerializer(self.screening(screening.public_id)).data,
            status=status.HTTP_201_CREATED,
        )


class ScreeningDetailView(InspectionsView):
    schema = WholeBodyPatchSchema()

    @extend_schema(
        tags=["inspections"],
        summary="A worker screening",
        responses={200: WorkerScreeningSerializer, **ERRORS},
    )
    def get(self, request: Request, public_id: str) -> Response:
        return Response(WorkerScreeningSerializer(self.screening(public_id)).data)

    @extend_schema(
        tags=["inspections"],
        summary="Save the draft: the indicators found so far (answers the result and conclusion)",
        request=WorkerScreeningDraftSerializer,
        responses={200: WorkerScreeningSerializer, **ERRORS, **CONFLICT},
    )
    def patch(self, request: Request, public_id: str) -> Response:
        screening = self.screening(public_id, write=True)
        data = _valid(WorkerScreeningDraftSerializer, request.data)
        services.save_draft(
            actor=self.actor, screening=screening, expected_version=data["version"], found=data["found"]
        )
        return Response(WorkerScreeningSerializer(self.screening(public_id)).data)


class ScreeningCompleteView(InspectionsView):
    @extend_schema(
        tags=["inspections"],
        summary="Complete a screening",
        request=WorkerScreeningCompleteSerializer,
        responses={200: WorkerScreeningSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: Request, public_id: str) -> Response:
        screening = self.screening(public_id, write=True)
        data = _valid(WorkerScreeningCompleteSerializer, request.data)
        services.complete_screening(
            actor=self.actor, screening=screening, expected_version=data["version"], found=data.get("found")
        )
        return Response(WorkerScreeningSerializer(self.screening(public_id)).data)


class ScreeningReferView(InspectionsView):
    @extend_schema(
        tags=["inspections"],
        summary="Refer the worker into the mechanism, or notify anonymously (one step)",
        description="With consent (or for a child, in the child's best interests) a case is created with the "
        "identity given, owned by `owning_agency`, with this screening recorded on it. An adult who does not "
        "consent: an anonymous notification; the identity is not kept. The police partner is alerted where the "
        "country profile says so.",
        request=WorkerReferralSerializer,
        responses={200: WorkerScreeningSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: Request, public_id: str) -> Response:
        screening = self.screening(public_id, write=True)
        data = _valid(WorkerReferralSerializer, request.data)
        given = data.get("identity")
        identity = IntakeData(**given) if given else None
        services.refer_worker(
            actor=self.actor,
            screening=screening,
            consent_given=data["consent_given"],
            identity=identity,
            owning_agency=data.get("owning_agency"),
            expected_version=data["version"],
        )
        return Response(WorkerScreeningSerializer(self.screening(public_id)).data)


class InspectionStatsView(InspectionsView):
    @extend_schema(
        tags=["inspections"],
        summary="Statistics of labour inspections for one year (aggregates only)",
        parameters=[
            OpenApiParameter("year", int, description="Year of the inspections (default: the latest).")
        ],
        responses={200: OpenApiTypes.OBJECT, **FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        if not self.access.has(Perm.STATS_VIEW):
            raise exceptions.PermissionDenied()
        invalid = serializers.ValidationError(
            {"year": [serializers.IntegerField.default_error_messages["invalid"]]}
        )
        try:
            year = int(request.query_params.get("year", "") or 0) or None
        except ValueError:
            raise invalid from None
        if year is not None and not 2000 <= year <= 2100:
            raise invalid
        stats = selectors.inspection_statistics(year=year)

        def table(t: selectors.Table) -> dict[str, Any]:
            return {"rows": [{"key": r.key, "label": r.label, **r.values} for r in t.rows], "total": t.total}

        return Response(
            {
                "year": stats.year,
                "years": stats.years,
                "inspections": stats.inspections,
                "joint_with_police": stats.joint,
                "workers_present": stats.workers_present,
                "workers_interviewed": stats.workers_interviewed,
                "workers_screened": stats.screened,
                "screenings_in_draft": stats.drafts,
                "presumed_victims": stats.presumed,
                "presumed_victims_children": stats.presumed_children,
                "referred": stats.referred,
                "notified": stats.notified,
                "identified": stats.identified,
                "by_sector": table(stats.by_sector),
                "by_region": table(stats.by_region),
                "by_conclusion": table(stats.conclusions),
                "referral_outcomes": table(stats.outcomes),
            }
        )
