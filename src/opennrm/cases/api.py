"""REST API of the cases app (under /api/v1/). Thin views: reads start from `visible_cases`, writes call the
services, and every object is named by its public id.

- A case (or a consent, decision, plan item, attachment, compensation of a case) the user may not see answers
  404, exactly like one that does not exist; so does one they may see but may not act on in the way asked.
  A collection-level act the user's role never allows (filing a referral, the decision queue) answers 403.
- A rule of the mechanism that refuses an act (`DomainError`) answers 400 `{"detail": message, "code": code}`
  with the message in the request's language; an edit over someone else's (`ConcurrentEditError`) answers 409.
  The services run in one transaction, so a refused act changes nothing.
- Identifying data (identity, notes, attachments, free text) goes out only to a user who may read the identity
  of the case, and each read is recorded in the audit log with the names of the fields read. Identity is never
  searched through the address (which ends up in proxy logs and browser history): POST /cases/search/.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.db.models import (
    Exists,
    F,
    Model,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import Agency, Membership, User
from opennrm.accounts.roles import Perm
from opennrm.cases import screening, services
from opennrm.cases import serializers as s
from opennrm.cases.identity import PURPOSE
from opennrm.cases.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseExploitation,
    Compensation,
    Consent,
    Decision,
    IdentityIndex,
    Note,
    Screening,
    SupportPlanItem,
    TraffickingEvent,
)
from opennrm.cases.selectors import IDENTITY_FIELDS, can_do, can_read_identity, decision_queue, visible_cases
from opennrm.cases.selectors_assistance import case_object
from opennrm.cases.views.listing import identity_condition
from opennrm.core import audit
from opennrm.core.blind_index import blind_index, blind_index_parts
from opennrm.core.errors import ConcurrentEditError, DomainError

M = TypeVar("M", bound=Model)
Kind = IdentityIndex.Kind

# Identifying free text kept on the case rather than on the person.
CASE_TEXT_FIELDS = ("narrative", "guardian")
READABLE_IDENTITY = (*IDENTITY_FIELDS, *CASE_TEXT_FIELDS)
# Query parameters that would put identity in an address.
IDENTITY_PARAMS = {
    "name",
    "given_name",
    "family_name",
    "date_of_birth",
    "document",
    "document_number",
    "phone",
}

ERRORS = {
    400: OpenApiResponse(
        s.ErrorSerializer, description="Refused by a rule, or invalid input (field errors)."
    ),
    404: OpenApiResponse(description="Not found, or not yours to see or to act on."),
}
CONFLICT = {409: OpenApiResponse(s.ErrorSerializer, description="The case changed since you read `version`.")}
FORBIDDEN = {403: OpenApiResponse(description="Your role does not allow this.")}


def _responses(ok: Any, code: int = status.HTTP_200_OK, *, conflict: bool = False) -> dict[int, Any]:
    return {code: ok, **ERRORS, **(CONFLICT if conflict else {})}


class WholeBodyPatchSchema(AutoSchema):
    """Our PATCH bodies are validated whole (`version` is required), not as DRF partial updates: document them so
    instead of as "Patched" components where every field is optional."""

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        method, self.method = self.method, "POST"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = method


# --- querysets -------------------------------------------------------------------------------------------


def _cases(access: Access) -> QuerySet[Case]:
    """Visible cases with what a list shows, in a fixed number of queries (no identifying column decrypted)."""
    open_decisions = Decision.objects.filter(case=OuterRef("pk"), outcome="")
    return (
        visible_cases(access)
        .select_related("owning_agency", "referring_agency")
        .defer(*CASE_TEXT_FIELDS)
        .annotate(
            decision_deadline=Subquery(open_decisions.order_by("deadline_at").values("deadline_at")[:1]),
            overdue=Exists(open_decisions.filter(deadline_at__lt=timezone.now())),
        )
        .prefetch_related(Prefetch("exploitation_forms", queryset=CaseExploitation.objects.order_by("form")))
    )


def _case_details(access: Access) -> QuerySet[Case]:
    return (
        _cases(access)
        .select_related("case_worker", "compensation")
        .annotate(
            person_sex=F("person__sex"),
            person_citizenship=F("person__citizenship"),
            person_languages=F("person__languages"),
        )
        .prefetch_related(
            Prefetch("events", queryset=TraffickingEvent.objects.defer("details")),
            Prefetch(
                "decisions",
                queryset=Decision.objects.select_related("appeal_of")
                .defer("reasons", "appeal_of__reasons")
                .order_by("requested_at"),
            ),
        )
    )


def _error(exc: DomainError) -> dict[str, str]:
    return {"detail": " ".join(str(m) for m in exc.messages), "code": exc.code or "invalid"}


# --- base view ------------------------------------------------------------------------------------------


class CasesView(GenericAPIView[Any]):
    # What every view of the cases API shares: access, look-ups that answer 404, domain errors as 400/409.
    # (A comment, not a docstring: the schema would show it as the description of every endpoint.)

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

    def require(self, *perms: Perm) -> Access:
        """Collection-level acts: 403 when no membership of the user grants any of `perms`."""
        access = self.access
        if not any(access.has(perm) for perm in perms):
            raise exceptions.PermissionDenied()
        return access

    def allowed(
        self, case: Case, *, perm: Perm | None = None, identity: bool = False, follow: bool = False
    ) -> bool:
        access = self.access
        if perm is not None and not can_do(access, perm, case):
            return False
        if identity and not can_read_identity(access, case):
            return False
        return not follow or can_do(access, Perm.CASE_VIEW, case) or can_read_identity(access, case)

    def case(
        self, public_id: str, *, perm: Perm | None = None, identity: bool = False, follow: bool = False
    ) -> Case:
        """A visible case the user may act on as asked, or 404.

        `perm`: the act's permission must reach the case; `identity`: the user may read its identity;
        `follow`: the user runs or oversees the case (not only a service provider it was referred to).
        """
        case = (
            visible_cases(self.access)
            .select_related("owning_agency", "referring_agency")
            .defer(*CASE_TEXT_FIELDS)
            .filter(public_id=public_id)
            .first()
        )
        if case is None or not self.allowed(case, perm=perm, identity=identity, follow=follow):
            raise Http404
        return case

    def child_of_case(self, model: type[M], public_id: str, *, perm: Perm) -> M:
        """A row of a visible case (consent, decision, plan item ...) whose case the user may act on, or 404."""
        obj = case_object(self.access, model, public_id, perm=perm)
        if obj is None:
            raise Http404
        return obj

    def detail(self, public_id: str, code: int = status.HTTP_200_OK) -> Response:
        case = _case_details(self.access).filter(public_id=public_id).first()
        if case is None:
            raise Http404
        return Response(s.CaseDetailSerializer(case).data, status=code)

    def page(self, rows: Any, serializer: type[serializers.BaseSerializer[Any]], **context: Any) -> Response:
        page = self.paginate_queryset(rows)
        data = serializer(page, many=True, context={"request": self.request, **context}).data
        return self.get_paginated_response(data)

    def audit_read(self, case: Case, fields: list[str], action: str, **details: Any) -> None:
        audit.record_read(
            actor=self.actor, target=case, fields=fields, action=action, details=details or None
        )


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Any, **context: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _acting_agency(access: Access, perm: Perm, public_id: str, field: str) -> Agency:
    """The user's agency an act is done for: the one named, or their only agency with `perm`."""
    agencies = {m.agency.public_id: m.agency for m in access.memberships_with(perm)}
    if public_id:
        if public_id not in agencies:
            message = serializers.SlugRelatedField.default_error_messages["does_not_exist"]
            raise serializers.ValidationError({field: [message.format(slug_name="id", value=public_id)]})
        return agencies[public_id]
    if len(agencies) != 1:
        raise serializers.ValidationError({field: [serializers.Field.default_error_messages["required"]]})
    return next(iter(agencies.values()))


# --- cases ----------------------------------------------------------------------------------------------


class CaseListView(CasesView):
    @extend_schema(
        tags=["cases"],
        summary="Cases you may see (no identifying data)",
        parameters=[s.CaseFilterSerializer],
        responses={200: s.CaseListSerializer(many=True), **ERRORS, **FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        access = self.require(Perm.CASE_VIEW, Perm.CASE_REFER, Perm.REFERRAL_RESPOND)
        if IDENTITY_PARAMS & set(request.query_params):
            raise DomainError(
                _(
                    "Identity is not searched through the address, which is kept in logs: use POST /api/v1/cases/search/."
                ),
                code="identity_in_address",
            )
        filters = _valid(s.CaseFilterSerializer, request.query_params)
        cases = _cases(access)
        if "status" in filters:
            cases = cases.filter(status=filters["status"])
        if "form" in filters:
            cases = cases.filter(
                Exists(CaseExploitation.objects.filter(case=OuterRef("pk"), form=filters["form"]))
            )
        if filters.get("region"):
            cases = cases.filter(region=filters["region"].upper())
        if filters.get("child") is not None:
            cases = cases.filter(is_child=filters["child"])
        if filters.get("overdue") is not None:
            late = Exists(
                Decision.objects.filter(case=OuterRef("pk"), outcome="", deadline_at__lt=timezone.now())
            )
            cases = cases.filter(late) if filters["overdue"] else cases.exclude(late)
        if filters.get("agency"):
            cases = cases.filter(owning_agency__public_id=filters["agency"])
        if filters.get("reference"):
            cases = cases.filter(reference__startswith=filters["reference"].strip().upper())
        return self.page(cases.order_by("-created_at", "-id"), s.CaseListSerializer)

    @extend_schema(
        tags=["cases"],
        summary="Refer a presumed victim (intake)",
        request=s.IntakeSerializer,
        responses={201: s.CaseDetailSerializer, **ERRORS, **FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        access = self.require(Perm.CASE_REFER)
        data = _valid(s.IntakeSerializer, request.data)
        referring = _acting_agency(access, Perm.CASE_REFER, data.pop("referring_agency"), "referring_agency")
        owning = data.pop("owning_agency")
        consent_given = data.pop("consent_given")
        case = services.refer_person(
            actor=self.actor,
            referring_agency=referring,
            owning_agency=owning,
            data=services.IntakeData(**data),
            consent_given=consent_given,
        )
        return self.detail(case.public_id, status.HTTP_201_CREATED)


class CaseSearchView(CasesView):
    @extend_schema(
        tags=["cases"],
        summary="Find cases by identity (exact, through blind indexes)",
        description="Name (full name), name and date of birth, or document number, compared after normalisation "
        "(case, spaces, punctuation and script do not matter). Only cases whose identity you may read are "
        "returned; the search is audited (which criteria, never their values). Paginated like the case list "
        "(`?page=`).",
        request=s.CaseSearchSerializer,
        responses={200: s.CaseListSerializer(many=True), **ERRORS, **FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        access = self.require(Perm.CASE_VIEW_IDENTITY, Perm.CASE_REFER)
        data = _valid(s.CaseSearchSerializer, request.data)
        name, born, document = data["name"].strip(), data["date_of_birth"], data["document"].strip()
        wanted: list[tuple[str, str]] = []
        if document:
            wanted.append(
                (Kind.DOCUMENT, blind_index(document, purpose=PURPOSE[Kind.DOCUMENT], document=True))
            )
        if name and born:
            digest = blind_index_parts(name, born.isoformat(), purpose=PURPOSE[Kind.NAME_DOB])
            wanted.append((Kind.NAME_DOB, digest))
        elif name:
            wanted.append((Kind.NAME, blind_index(name, purpose=PURPOSE[Kind.NAME])))
        readable = identity_condition(access)
        if readable is None:
            raise exceptions.PermissionDenied()
        cases = _cases(access).filter(readable)
        for kind, digest in wanted:
            entry = IdentityIndex.objects.filter(person_id=OuterRef("person_id"), kind=kind, digest=digest)
            cases = cases.filter(Exists(entry))
        page = self.paginate_queryset(cases.order_by("-created_at", "-id")) or []
        criteria = [k for k, v in (("name", name), ("date_of_birth", born), ("document", document)) if v]
        found = self.paginator.page.paginator.count  # type: ignore[union-attr]
        audit.record(
            actor=self.actor, action="case.searched", details={"criteria": criteria, "results": found}
        )
        return self.get_paginated_response(s.CaseListSerializer(page, many=True).data)


class CaseDetailView(CasesView):
    schema = WholeBodyPatchSchema()

    @extend_schema(
        tags=["cases"], summary="A case (no identifying data)", responses=_responses(s.CaseDetailSerializer)
    )
    def get(self, request: Request, public_id: str) -> Response:
        return self.detail(public_id)

    @extend_schema(
        tags=["cases"],
        summary="Change a case (send the `version` you read)",
        request=s.CaseUpdateSerializer,
        responses=_responses(s.CaseDetailSerializer, conflict=True),
    )
    def patch(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT)
        data = _valid(s.CaseUpdateSerializer, request.data)
        version = data.pop("version")
        forms = data.pop("exploitation_forms", None)
        if "case_worker" in data:
            data["case_worker"] = self._case_worker(case, data["case_worker"])
        if "region" in data:
            data["region"] = data["region"].upper()
        services.update_case(
            actor=self.actor, case=case, expected_version=version, changes=data, exploitation_forms=forms
        )
        return self.detail(case.public_id)

    def _case_worker(self, case: Case, public_id: str | None) -> User | None:
        if public_id is None:
            return None
        for membership in Membership.objects.active().filter(
            agency_id=case.owning_agency_id, user__public_id=public_id
        ):
            if Perm.CASE_EDIT in membership.permissions:
                return membership.user
        message = serializers.SlugRelatedField.default_error_messages["does_not_exist"]
        raise serializers.ValidationError({"case_worker": [message.format(slug_name="id", value=public_id)]})


class CaseIdentityView(CasesView):
    schema = WholeBodyPatchSchema()

    @extend_schema(
        tags=["cases"],
        summary="IDENTIFYING: the person's identity and the case's free text (audited read)",
        description="Only for a user who may read the identity of the case; anyone else gets 404. Each read is "
        "recorded in the audit log with the names of the fields read: ask only for the fields you need.",
        parameters=[
            OpenApiParameter(
                "fields",
                str,
                description=f"Comma-separated subset of: {', '.join(READABLE_IDENTITY)} (default: all).",
            )
        ],
        responses=_responses(s.IdentitySerializer),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, identity=True)
        asked = [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]
        unknown = sorted(set(asked) - set(READABLE_IDENTITY))
        if unknown:
            choice = serializers.ChoiceField.default_error_messages["invalid_choice"]
            raise serializers.ValidationError({"fields": [choice.format(input=name) for name in unknown]})
        fields = [f for f in READABLE_IDENTITY if not asked or f in asked]
        person_fields = [f for f in fields if f in IDENTITY_FIELDS]
        case_fields = [f for f in fields if f in CASE_TEXT_FIELDS]
        data: dict[str, Any] = {}
        if person_fields:
            data.update(services.read_identity(actor=self.actor, case=case, fields=person_fields))
        if case_fields:
            texts = Case.objects.filter(pk=case.pk).only(*case_fields).get()
            self.audit_read(case, case_fields, "case.read")
            data.update({f: getattr(texts, f) for f in case_fields})
        return Response(s.IdentitySerializer(data).data)

    @extend_schema(
        tags=["cases"],
        summary="Change the person's identity (send the `version` you read)",
        description="Answers with the new version and the names of the fields changed (read them back with GET).",
        request=s.IdentityUpdateSerializer,
        responses=_responses(s.IdentityUpdatedSerializer, conflict=True),
    )
    def patch(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT, identity=True)
        data = _valid(s.IdentityUpdateSerializer, request.data)
        version = data.pop("version")
        for name in ("documents", "contacts"):
            if name in data:
                data[name] = [dict(item) for item in data[name]]
        services.update_identity(actor=self.actor, case=case, expected_version=version, changes=data)
        updated = {"id": case.public_id, "version": case.version, "updated": sorted(data)}
        return Response(s.IdentityUpdatedSerializer(updated).data)


# --- consent --------------------------------------------------------------------------------------------


class ConsentListView(CasesView):
    @extend_schema(
        tags=["consent"],
        summary="Consents of a case (the justification only with identity access, audited)",
        responses=_responses(s.ConsentSerializer(many=True)),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, follow=True)
        identity = can_read_identity(self.access, case)
        consents = (
            Consent.objects.filter(case=case).select_related("agency", "recorded_by").order_by("-created_at")
        )
        if not identity:
            consents = consents.defer("justification")
        page = self.paginate_queryset(consents) or []
        if identity and any(c.justification for c in page):
            self.audit_read(case, ["consents.justification"], "consent.read", consents=len(page))
        data = s.ConsentSerializer(page, many=True, context={"identity": identity}).data
        return self.get_paginated_response(data)

    @extend_schema(
        tags=["consent"],
        summary="Record a consent (or a lawful basis instead of it)",
        request=s.ConsentInputSerializer,
        responses=_responses(s.ConsentSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT)
        data = _valid(s.ConsentInputSerializer, request.data)
        consent = services.record_consent(actor=self.actor, case=case, **data)
        return Response(s.ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)


class ConsentWithdrawView(CasesView):
    @extend_schema(
        tags=["consent"],
        summary="Withdraw a consent",
        request=None,
        responses=_responses(s.ConsentSerializer),
    )
    def post(self, request: Request, public_id: str) -> Response:
        consent = self.child_of_case(Consent, public_id, perm=Perm.CASE_EDIT)
        if consent.withdrawn_at is not None:
            raise DomainError(_("This consent was already withdrawn."), code="already_withdrawn")
        consent = services.withdraw_consent(actor=self.actor, consent=consent)
        return Response(s.ConsentSerializer(consent).data)


# --- screening ------------------------------------------------------------------------------------------


def _instrument_data(instrument: screening.Instrument) -> dict[str, Any]:
    def verification(v: screening.Verification) -> dict[str, str]:
        return {"status": str(v.status), "summary": str(v.summary)}

    return {
        "id": instrument.id,
        "version": instrument.version,
        "title": str(instrument.title),
        "publisher": instrument.publisher,
        "year": instrument.year,
        "verification": verification(instrument.verification),
        "rule": instrument.rule.type,
        "lists": [
            {
                "id": item.id,
                "population": str(item.population),
                "forms_of_exploitation": list(item.forms_of_exploitation),
                "title": str(item.title),
                "verification": verification(item.verification),
                "dimensions": [
                    {
                        "id": dimension.id,
                        "label": str(dimension.label),
                        "kind": str(dimension.kind) if dimension.kind else None,
                        "indicators": [
                            {
                                "id": indicator.id,
                                "label": str(indicator.label),
                                "strength": str(indicator.strength) if indicator.strength else None,
                                "description": str(indicator.description) if indicator.description else None,
                            }
                            for indicator in dimension.indicators
                        ],
                    }
                    for dimension in item.dimensions
                ],
            }
            for item in instrument.lists
        ],
    }


class InstrumentListView(CasesView):
    pagination_class = None

    @extend_schema(
        tags=["screening"],
        summary="Screening instruments loaded on this instance, every version, in your language",
        responses={200: s.InstrumentSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        instruments = sorted(screening.default_instruments().values(), key=lambda i: (i.id, i.version))
        return Response(s.InstrumentSerializer([_instrument_data(i) for i in instruments], many=True).data)


def _evaluate(data: dict[str, Any]) -> screening.ScreeningResult:
    try:
        instrument = screening.get_instrument(data["instrument_id"], data["instrument_version"])
        return screening.evaluate(instrument=instrument, list_id=data["list_id"], found=set(data["found"]))
    except (LookupError, ValueError) as exc:
        raise DomainError(
            _("The screening could not be evaluated: %(error)s") % {"error": exc}, code="invalid"
        ) from exc


class EvaluateView(CasesView):
    @extend_schema(
        tags=["screening"],
        summary="Preview a screening (nothing is saved)",
        description="The conclusion is advice to the decision maker, never the decision.",
        request=s.EvaluateInputSerializer,
        responses={200: s.ScreeningResultSerializer, 400: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        result = _evaluate(_valid(s.EvaluateInputSerializer, request.data))
        return Response(s.ScreeningResultSerializer(result.as_dict()).data)


class ScreeningListView(CasesView):
    @extend_schema(
        tags=["screening"],
        summary="Screenings of a case (notes only with identity access, audited)",
        responses=_responses(s.ScreeningSerializer(many=True)),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, follow=True)
        identity = can_read_identity(self.access, case)
        screenings = Screening.objects.filter(case=case).select_related("screened_by").order_by("-created_at")
        if not identity:
            screenings = screenings.defer("notes")
        page = self.paginate_queryset(screenings) or []
        if identity and any(row.notes for row in page):
            self.audit_read(case, ["screenings.notes"], "screening.read", screenings=len(page))
        data = s.ScreeningSerializer(page, many=True, context={"identity": identity}).data
        return self.get_paginated_response(data)

    @extend_schema(
        tags=["screening"],
        summary="Record a screening of the case",
        request=s.ScreeningInputSerializer,
        responses=_responses(s.ScreeningSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT)
        data = _valid(s.ScreeningInputSerializer, request.data)
        row = services.record_screening(actor=self.actor, case=case, **data)
        return Response(s.ScreeningSerializer(row).data, status=status.HTTP_201_CREATED)


# --- identification decision ------------------------------------------------------------------------------


class DecisionRequestView(CasesView):
    @extend_schema(
        tags=["decisions"],
        summary="Request an identification decision (starts the statutory clock)",
        request=s.DecisionRequestInputSerializer,
        responses=_responses(s.DecisionSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.DECISION_REQUEST)
        data = _valid(s.DecisionRequestInputSerializer, request.data)
        decision = services.request_decision(actor=self.actor, case=case, route=data["route"])
        return Response(s.DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


class AppealView(CasesView):
    @extend_schema(
        tags=["decisions"],
        summary="Appeal against a refusal (a new request on the same route)",
        request=None,
        responses=_responses(s.DecisionSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.DECISION_REQUEST)
        decision = services.appeal(actor=self.actor, case=case)
        return Response(s.DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


class DecisionQueueView(CasesView):
    @extend_schema(
        tags=["decisions"],
        summary="Open decision requests you may decide, soonest deadline first",
        responses={200: s.QueueItemSerializer(many=True), **FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        access = self.require(Perm.DECISION_MAKE)
        items = self.paginate_queryset(decision_queue(access)) or []
        prefetch_related_objects([item.decision for item in items], "appeal_of")
        rows = [
            {"decision": i.decision, "overdue": i.overdue, "remaining_seconds": int(i.remaining_seconds)}
            for i in items
        ]
        return self.get_paginated_response(s.QueueItemSerializer(rows, many=True).data)


class DecideView(CasesView):
    @extend_schema(
        tags=["decisions"],
        summary="Decide a request: grant or refuse victim status",
        request=s.DecideInputSerializer,
        responses=_responses(s.DecisionSerializer),
    )
    def post(self, request: Request, public_id: str) -> Response:
        decision = self.child_of_case(Decision, public_id, perm=Perm.DECISION_MAKE)
        data = _valid(s.DecideInputSerializer, request.data)
        decision = services.decide(actor=self.actor, decision=decision, **data)
        return Response(s.DecisionSerializer(decision).data)


# --- assistance ----------------------------------------------------------------------------------------


class PlanView(CasesView):
    @extend_schema(
        tags=["assistance"],
        summary="Support plan of a case (objective and action only with identity access, audited)",
        responses=_responses(s.PlanItemSerializer(many=True)),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, follow=True)
        identity = can_read_identity(self.access, case)
        items = SupportPlanItem.objects.filter(case=case).order_by("planned_end", "id")
        if not identity:
            items = items.defer("objective", "action")
        page = self.paginate_queryset(items) or []
        if identity and page:
            self.audit_read(case, ["plan_items.objective", "plan_items.action"], "plan.read", items=len(page))
        data = s.PlanItemSerializer(page, many=True, context={"identity": identity}).data
        return self.get_paginated_response(data)

    @extend_schema(
        tags=["assistance"],
        summary="Add an item to the support plan",
        request=s.PlanItemInputSerializer,
        responses=_responses(s.PlanItemSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT)
        data = _valid(s.PlanItemInputSerializer, request.data)
        item = services.add_plan_item(actor=self.actor, case=case, **data)
        return Response(s.PlanItemSerializer(item).data, status=status.HTTP_201_CREATED)


class PlanCompleteView(CasesView):
    @extend_schema(
        tags=["assistance"],
        summary="Mark a plan item done",
        request=s.CompletePlanItemSerializer,
        responses=_responses(s.PlanItemSerializer),
    )
    def post(self, request: Request, public_id: str) -> Response:
        item = self.child_of_case(SupportPlanItem, public_id, perm=Perm.CASE_EDIT)
        data = _valid(s.CompletePlanItemSerializer, request.data)
        item = services.complete_plan_item(actor=self.actor, item=item, actual_end=data["actual_end"])
        return Response(s.PlanItemSerializer(item).data)


class NoteListView(CasesView):
    @extend_schema(
        tags=["assistance"],
        summary="IDENTIFYING: notes of a case (audited read)",
        responses=_responses(s.NoteSerializer(many=True)),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, identity=True)
        notes = Note.objects.filter(case=case).select_related("author").order_by("-created_at", "-id")
        page = self.paginate_queryset(notes) or []
        if page:
            self.audit_read(case, ["notes.body"], "note.read", notes=len(page))
        return self.get_paginated_response(s.NoteSerializer(page, many=True).data)

    @extend_schema(
        tags=["assistance"],
        summary="Add a note",
        request=s.NoteInputSerializer,
        responses=_responses(s.NoteSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT, identity=True)
        data = _valid(s.NoteInputSerializer, request.data)
        note = services.add_note(actor=self.actor, case=case, body=data["body"])
        return Response(s.NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class AttachmentListView(CasesView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=["assistance"],
        summary="IDENTIFYING: attachments of a case (file names; audited read)",
        responses=_responses(s.AttachmentSerializer(many=True)),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, identity=True)
        rows = (
            Attachment.objects.filter(case=case).select_related("uploaded_by").order_by("-created_at", "-id")
        )
        page = self.paginate_queryset(rows) or []
        if page:
            self.audit_read(
                case, ["attachments.original_name"], "attachment.list.read", attachments=len(page)
            )
        return self.get_paginated_response(s.AttachmentSerializer(page, many=True).data)

    @extend_schema(
        tags=["assistance"],
        summary="Attach a file (PDF, JPEG, PNG or plain text), encrypted at rest",
        request={"multipart/form-data": s.AttachmentInputSerializer},
        responses=_responses(s.AttachmentSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT, identity=True)
        data = _valid(s.AttachmentInputSerializer, request.data)
        attachment = services.add_attachment(actor=self.actor, case=case, upload=data["file"])
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentDownloadView(CasesView):
    @extend_schema(
        tags=["assistance"],
        summary="IDENTIFYING: download an attachment (audited read)",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERRORS[404]},
    )
    def get(self, request: Request, public_id: str) -> FileResponse:
        attachment = case_object(self.access, Attachment, public_id, identity=True)
        if attachment is None:
            raise Http404
        # As the web download: the file (and its name, in the header) read by this user.
        audit.record_read(actor=self.actor, target=attachment, fields=["file", "original_name"])
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
        response["Cache-Control"] = "no-store, private"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class CompensationApproveView(CasesView):
    @extend_schema(
        tags=["assistance"],
        summary="Approve the one-off state compensation of the country profile",
        request=None,
        responses=_responses(s.CompensationSerializer, status.HTTP_201_CREATED),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.COMPENSATION_APPROVE)
        compensation = services.approve_compensation(actor=self.actor, case=case)
        return Response(s.CompensationSerializer(compensation).data, status=status.HTTP_201_CREATED)


class CompensationPayView(CasesView):
    @extend_schema(
        tags=["assistance"],
        summary="Record the payment of an approved compensation",
        request=s.PayInputSerializer,
        responses=_responses(s.CompensationSerializer),
    )
    def post(self, request: Request, public_id: str) -> Response:
        compensation = self.child_of_case(Compensation, public_id, perm=Perm.COMPENSATION_APPROVE)
        data = _valid(s.PayInputSerializer, request.data)
        compensation = services.pay_compensation(
            actor=self.actor, compensation=compensation, payment_reference=data["payment_reference"]
        )
        return Response(s.CompensationSerializer(compensation).data)


# --- closure, timeline, notifications ---------------------------------------------------------------------


class CloseView(CasesView):
    @extend_schema(
        tags=["cases"],
        summary="Close a case",
        request=s.CloseInputSerializer,
        responses=_responses(s.CaseDetailSerializer),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT)
        data = _valid(s.CloseInputSerializer, request.data)
        services.close_case(actor=self.actor, case=case, **data)
        return self.detail(case.public_id)


class ReopenView(CasesView):
    @extend_schema(
        tags=["cases"],
        summary="Reopen a closed case",
        request=s.ReopenInputSerializer,
        responses=_responses(s.CaseDetailSerializer),
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, perm=Perm.CASE_EDIT)
        data = _valid(s.ReopenInputSerializer, request.data)
        services.reopen_case(actor=self.actor, case=case, reason=data["reason"])
        return self.detail(case.public_id)


class TimelineView(CasesView):
    @extend_schema(
        tags=["cases"],
        summary="Everything done on a case, oldest first",
        responses=_responses(s.TimelineEventSerializer(many=True)),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, follow=True)
        events = CaseEvent.objects.filter(case=case).select_related("actor", "agency").order_by("at", "id")
        return self.page(events, s.TimelineEventSerializer)


class NotificationView(CasesView):
    @extend_schema(
        tags=["cases"],
        summary="File an anonymous notification (an adult who does not consent; statistics only)",
        request=s.NotificationInputSerializer,
        responses={201: s.NotificationSerializer, **ERRORS, **FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        access = self.require(Perm.CASE_REFER)
        data = _valid(s.NotificationInputSerializer, request.data)
        agency = _acting_agency(access, Perm.CASE_REFER, data.pop("agency"), "agency")
        notification = services.notify_anonymously(actor=self.actor, agency=agency, **data)
        return Response(s.NotificationSerializer(notification).data, status=status.HTTP_201_CREATED)
