"""The transnational referrals API (under /api/v1/): send a case to a partner country, the country's incoming
referrals, accept (opening the local case) or decline them, exchange status updates.

Scoped like the pages: a case or referral the user may not see answers 404, and so does an act the user may not
take on it (an agency-scope case worker answering an incoming referral: the inbox is the national focal points').
A role without any transnational permission gets 403 on the list. A rule that refuses an act answers 400
`{"detail": message, "code": code}`; the act changed nothing. The person's identity, the notes and the reason for
declining go only to whoever may read the person's identity, and each read is audited. No identity goes in an
address: everything is named by public id.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, prefetch_related_objects
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.models import Case
from opennrm.cases.selectors import can_do, visible_cases
from opennrm.cases.serializers import ErrorSerializer
from opennrm.cooperation import transnational as tn
from opennrm.cooperation.models import (
    Direction,
    TransnationalReferral,
    TransnationalStatus,
    TransnationalUpdate,
    UpdateKind,
)
from opennrm.core.errors import DomainError
from opennrm.core.profiles import active_profile

TAGS = ["transnational referrals"]

# --- serializers -----------------------------------------------------------------------------------------


class TransnationalUpdateSerializer(serializers.ModelSerializer[TransnationalUpdate]):
    id = serializers.CharField(source="public_id", read_only=True)
    recorded_at = serializers.DateTimeField(source="created_at", read_only=True)
    note = serializers.SerializerMethodField(help_text="only for who may read the person's identity")

    class Meta:
        model = TransnationalUpdate
        fields = ["id", "direction", "kind", "date", "note", "recorded_at"]

    def get_note(self, obj: TransnationalUpdate) -> str:
        return obj.note if self.context.get("private") else ""


class TransnationalReferralSerializer(serializers.ModelSerializer[TransnationalReferral]):
    """A transnational referral without any data of the person."""

    id = serializers.CharField(source="public_id", read_only=True)
    partner = serializers.CharField(source="partner.code", read_only=True)
    partner_country = serializers.CharField(source="partner.country", read_only=True)
    case = serializers.SerializerMethodField(
        help_text="public id of the case here (sent from, or opened on acceptance)"
    )
    case_reference = serializers.SerializerMethodField()
    services = serializers.ListField(
        child=serializers.ChoiceField(choices=tn.ServiceNeed.choices), read_only=True
    )

    class Meta:
        model = TransnationalReferral
        fields = [
            "id",
            "referral_id",
            "direction",
            "partner",
            "partner_country",
            "status",
            "services",
            "remote_reference",
            "case",
            "case_reference",
            "created_at",
            "responded_at",
        ]

    def get_case(self, obj: TransnationalReferral) -> str | None:
        return obj.case.public_id if obj.case is not None else None

    def get_case_reference(self, obj: TransnationalReferral) -> str | None:
        return obj.case.reference if obj.case is not None else None


class TransnationalReferralDetailSerializer(TransnationalReferralSerializer):
    """One referral: what crossed about the case, and for who may read them, the person and the free text."""

    crossed = serializers.SerializerMethodField(
        help_text="what crossed the border about the case, its screening, needs, planned arrival and consent "
        "(no identifying value)"
    )
    person = serializers.SerializerMethodField(
        help_text="the person as they crossed (names, date of birth, sex, citizenship, languages); null unless "
        "you may read the person's identity (the read is audited)"
    )
    note = serializers.SerializerMethodField(help_text="the sender's note; only with the person")
    decline_reason = serializers.SerializerMethodField(help_text="only with the person")
    updates = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField(help_text="what you may do now: accept, decline, update")

    class Meta(TransnationalReferralSerializer.Meta):
        fields = [
            *TransnationalReferralSerializer.Meta.fields,
            "crossed",
            "person",
            "note",
            "decline_reason",
            "updates",
            "actions",
        ]

    def get_crossed(self, obj: TransnationalReferral) -> dict[str, Any]:
        payload = obj.payload or {}
        return {k: v for k, v in payload.items() if k not in ("person", "note")}

    def get_person(self, obj: TransnationalReferral) -> dict[str, Any] | None:
        return dict((obj.payload or {}).get("person") or {}) if self.context.get("private") else None

    def get_note(self, obj: TransnationalReferral) -> str:
        return str((obj.payload or {}).get("note", "")) if self.context.get("private") else ""

    def get_decline_reason(self, obj: TransnationalReferral) -> str:
        return obj.decline_reason if self.context.get("private") else ""

    @extend_schema_field(TransnationalUpdateSerializer(many=True))
    def get_updates(self, obj: TransnationalReferral) -> Any:
        return TransnationalUpdateSerializer(obj.updates.all(), many=True, context=self.context).data

    def get_actions(self, obj: TransnationalReferral) -> list[str]:
        return sorted(self.context.get("actions", ()))


class TransnationalSendSerializer(serializers.Serializer[Any]):
    partner = serializers.CharField(
        help_text="code of an active partner instance of another country, e.g. UA"
    )
    services = serializers.ListField(
        child=serializers.ChoiceField(choices=tn.ServiceNeed.choices),
        allow_empty=False,
        help_text="what the person needs in the partner country",
    )
    planned_arrival = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=tn.NOTE_MAX)


class TransnationalAcceptSerializer(serializers.Serializer[Any]):
    owning_agency = serializers.CharField(
        help_text="public id of the agency of this country that runs the case"
    )
    region = serializers.CharField(required=False, allow_blank=True, default="", help_text="region code")


class TransnationalDeclineSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=tn.NOTE_MAX)


class TransnationalUpdateInputSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=UpdateKind.choices)
    date = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="required for arrival and return_date"
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=tn.NOTE_MAX)


# --- views -----------------------------------------------------------------------------------------------

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Refused by a rule, or invalid input (field errors)."),
    404: OpenApiResponse(description="Not found, or not yours to see or to act on."),
}


class TransnationalView(GenericAPIView[Any]):
    # Shared: access, look-ups that answer 404, domain errors as 400, refusals on an object as 404.

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DomainError):
            return Response(
                {"detail": " ".join(str(m) for m in exc.messages), "code": exc.code or "invalid"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if isinstance(exc, PermissionDenied) and self.kwargs:
            exc = Http404()
        return super().handle_exception(exc)

    @property
    def access(self) -> Access:
        return request_access(self.request)

    @property
    def actor(self) -> User:
        return cast(User, self.request.user)

    def referral(self, public_id: str) -> TransnationalReferral:
        referral = tn.referrals_visible_to(self.access).filter(public_id=public_id).first()
        if referral is None:
            raise Http404
        return referral

    def detail(self, referral: TransnationalReferral, code: int = status.HTTP_200_OK) -> Response:
        access = self.access
        prefetch_related_objects([referral], "updates")  # read once: for the audit and for the answer
        private = tn.can_see_person(access, referral)
        if private:
            tn.record_person_read(self.actor, referral, referral.updates.all(), details={"via": "api"})
        actions = set()
        if tn.can_answer(access, referral):
            actions |= {"accept", "decline"}
        if tn.can_update(access, referral):
            actions.add("update")
        context = {"private": private, "actions": actions}
        return Response(TransnationalReferralDetailSerializer(referral, context=context).data, status=code)


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CaseReferralsView(TransnationalView):
    def case(self, public_id: str, perm: Perm) -> Case:
        case = visible_cases(self.access).filter(public_id=public_id).first()
        if case is None or not can_do(self.access, perm, case):
            raise Http404
        return case

    @extend_schema(
        tags=TAGS,
        summary="Transnational referrals of a case (sent from it, or the one it was opened from)",
        responses={200: TransnationalReferralSerializer(many=True), 404: ERRORS[404]},
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, Perm.CASE_VIEW)
        referrals = tn.referrals_visible_to(self.access).filter(case=case).order_by("-created_at")
        page = self.paginate_queryset(referrals.defer("payload", "decline_reason"))
        return self.get_paginated_response(TransnationalReferralSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Refer a case to a partner country",
        description="Refused (400, code `consent_required`) unless the case has a standing consent to sharing with "
        "the partner's country (purpose `cross_border`, record it with POST /cases/{id}/consents/). Only the "
        "minimal subset crosses (see the referral's `crossed` and `person`). The message is queued in the outbox "
        "in the same transaction and delivered after commit. A case you may not refer answers 404.",
        request=TransnationalSendSerializer,
        responses={201: TransnationalReferralDetailSerializer, **ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id, Perm.TRANSNATIONAL_SEND)
        data = _valid(TransnationalSendSerializer, request.data)
        partner = tn.referral_partners().filter(code=data["partner"].strip().upper()).first()
        if partner is None:
            raise serializers.ValidationError(
                {"partner": [_("Unknown or inactive partner of another country.")]}
            )
        referral = tn.send_referral(
            actor=self.actor,
            case=case,
            partner=partner,
            services=data["services"],
            planned_arrival=data["planned_arrival"],
            note_for_partner=data["note"],
        )
        return self.detail(referral, status.HTTP_201_CREATED)


DIRECTION = OpenApiParameter("direction", OpenApiTypes.STR, enum=Direction.values, required=False)
STATUS = OpenApiParameter("status", OpenApiTypes.STR, enum=TransnationalStatus.values, required=False)


class ReferralListView(TransnationalView):
    @extend_schema(
        tags=TAGS,
        summary="Transnational referrals you may see",
        description="`direction=incoming`: the country's incoming referrals (all of them for a national focal "
        "point; for others, those accepted as a case they follow). `direction=outgoing`: those sent from the "
        "cases you follow. No data of the person: read one referral for that.",
        parameters=[DIRECTION, STATUS],
        responses={
            200: TransnationalReferralSerializer(many=True),
            403: OpenApiResponse(description="Your role does not allow this."),
        },
    )
    def get(self, request: Request) -> Response:
        access = self.access
        if not any(
            access.has(p) for p in (Perm.TRANSNATIONAL_SEND, Perm.TRANSNATIONAL_RECEIVE, Perm.CASE_VIEW)
        ):
            raise exceptions.PermissionDenied()
        referrals: QuerySet[TransnationalReferral] = tn.referrals_visible_to(access)
        if direction := request.query_params.get("direction"):
            referrals = referrals.filter(direction=direction)
        if status_ := request.query_params.get("status"):
            referrals = referrals.filter(status=status_)
        page = self.paginate_queryset(referrals.defer("payload", "decline_reason").order_by("-created_at"))
        return self.get_paginated_response(TransnationalReferralSerializer(page, many=True).data)


class ReferralDetailView(TransnationalView):
    @extend_schema(
        tags=TAGS,
        summary="One transnational referral, with its updates",
        responses={200: TransnationalReferralDetailSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, public_id: str) -> Response:
        return self.detail(self.referral(public_id))


class _AnswerView(TransnationalView):
    def answerable(self, public_id: str) -> TransnationalReferral:
        referral = self.referral(public_id)
        if referral.direction != Direction.INCOMING or not tn.receives_for_country(self.access):
            raise Http404
        return referral


class AcceptView(_AnswerView):
    @extend_schema(
        tags=TAGS,
        summary="Accept an incoming referral: a case is opened here and the partner told its reference",
        description="For national focal points. The response names the new case (`case`, `case_reference`). "
        "Answering twice is refused (400, code `already_answered`).",
        request=TransnationalAcceptSerializer,
        responses={200: TransnationalReferralDetailSerializer, **ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        referral = self.answerable(public_id)
        data = _valid(TransnationalAcceptSerializer, request.data)
        agency = tn.receiving_agencies().filter(public_id=data["owning_agency"]).first()
        errors: dict[str, list[str]] = {}
        if agency is None:
            errors["owning_agency"] = [_("Unknown or inactive agency of this country.")]
        if data["region"] and data["region"] not in {r for r, _n in active_profile().region_choices()}:
            errors["region"] = [_("Unknown region.")]
        if errors:
            raise serializers.ValidationError(errors)
        assert agency is not None
        referral = tn.accept_referral(
            actor=self.actor, referral=referral, owning_agency=agency, region=data["region"]
        )
        return self.detail(referral)


class DeclineView(_AnswerView):
    @extend_schema(
        tags=TAGS,
        summary="Decline an incoming referral, with the reason (sent to the partner)",
        request=TransnationalDeclineSerializer,
        responses={200: TransnationalReferralDetailSerializer, **ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        referral = self.answerable(public_id)
        data = _valid(TransnationalDeclineSerializer, request.data)
        referral = tn.decline_referral(actor=self.actor, referral=referral, reason=data["reason"])
        return self.detail(referral)


class UpdateView(TransnationalView):
    @extend_schema(
        tags=TAGS,
        summary="Send a status update on an accepted referral (either side)",
        description="For who may refer the case it belongs to. Refused (400) unless the referral is accepted, and "
        "without a standing consent to sharing with the partner's country.",
        request=TransnationalUpdateInputSerializer,
        responses={201: TransnationalReferralDetailSerializer, **ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        referral = self.referral(public_id)
        if referral.case is None or not can_do(self.access, Perm.TRANSNATIONAL_SEND, referral.case):
            raise Http404
        data = _valid(TransnationalUpdateInputSerializer, request.data)
        tn.send_update(
            actor=self.actor, referral=referral, kind=data["kind"], date=data["date"], note=data["note"]
        )
        referral.refresh_from_db()
        return self.detail(referral, status.HTTP_201_CREATED)


# Routes, included by `opennrm.api_urls` under /api/v1/.
urlpatterns = [
    path(
        "cases/<str:public_id>/transnational-referrals/",
        CaseReferralsView.as_view(),
        name="api-case-transnational-referrals",
    ),
    path("transnational-referrals/", ReferralListView.as_view(), name="api-transnational-referral-list"),
    path(
        "transnational-referrals/<str:public_id>/",
        ReferralDetailView.as_view(),
        name="api-transnational-referral-detail",
    ),
    path(
        "transnational-referrals/<str:public_id>/accept/",
        AcceptView.as_view(),
        name="api-transnational-referral-accept",
    ),
    path(
        "transnational-referrals/<str:public_id>/decline/",
        DeclineView.as_view(),
        name="api-transnational-referral-decline",
    ),
    path(
        "transnational-referrals/<str:public_id>/updates/",
        UpdateView.as_view(),
        name="api-transnational-referral-updates",
    ),
]
