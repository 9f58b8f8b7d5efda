"""The referrals API: the service catalogue, referrals (behind the consent gate), their acts, deliveries, the inbox.

Scoped like the pages: a referral or case the user may not see answers 404, and so does an act on a referral that
the user may not take (the core exception handler turns a refusal on an object into 404). A role that lacks the
permission for a whole endpoint (the inbox, sending a referral) gets 403.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opennrm.accounts.access import request_access
from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import ConsentBasis
from opennrm.cases.selectors import can_do, visible_cases
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.referrals import services
from opennrm.referrals.models import Referral, ReferralStatus, ServiceDelivery, ServiceType
from opennrm.referrals.selectors import (
    allowed_actions,
    can_see_person,
    can_withdraw,
    deliveries_of,
    inbox,
    provider_view,
    referrals_visible_to,
    sending_agencies,
)


def _user(request: Request) -> User:
    return cast(User, request.user)


class HasAnyPerm(permissions.BasePermission):
    """The endpoint is for roles with one of `perms` (set per view)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = request_access(request)
        return any(access.has(p) for p in getattr(view, "required_perms", ()))


class DomainErrorResponse(serializers.Serializer[Any]):
    detail = serializers.CharField()
    code = serializers.CharField()


def _refused(error: DomainError) -> Response:
    return Response(
        {"detail": " ".join(error.messages), "code": error.code or "invalid"},
        status=status.HTTP_400_BAD_REQUEST,
    )


# --- serializers ---------------------------------------------------------------------------------------


class ServiceTypeSerializer(serializers.ModelSerializer[ServiceType]):
    id = serializers.CharField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        model = ServiceType
        fields = [
            "id",
            "country",
            "code",
            "category",
            "name",
            "names",
            "needs",
            "provider_kinds",
            "is_active",
        ]


class AgencyRefSerializer(serializers.ModelSerializer[Agency]):
    id = serializers.CharField(source="public_id", read_only=True)

    class Meta:
        model = Agency
        fields = ["id", "name", "kind"]


class ReferralSerializer(serializers.ModelSerializer[Referral]):
    """A referral without free text and without any data of the person."""

    id = serializers.CharField(source="public_id", read_only=True)
    case = serializers.CharField(source="case.public_id", read_only=True)
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    service = serializers.CharField(source="service.code", read_only=True)
    service_name = serializers.CharField(source="service.name", read_only=True)
    from_agency = AgencyRefSerializer(read_only=True)
    to_agency = AgencyRefSerializer(read_only=True)
    basis = serializers.SerializerMethodField(help_text="consent, or the lawful basis used without consent")

    class Meta:
        model = Referral
        fields = [
            "id",
            "case",
            "case_reference",
            "service",
            "service_name",
            "from_agency",
            "to_agency",
            "status",
            "basis",
            "created_at",
            "responded_at",
            "completed_at",
            "withdrawn_at",
        ]

    def get_basis(self, obj: Referral) -> str:
        return obj.override_basis or ConsentBasis.CONSENT.value


class ReferralDetailSerializer(ReferralSerializer):
    """One referral, with its free text (an audited read) and what the user may do with it."""

    reason = serializers.CharField(read_only=True)
    decline_reason = serializers.CharField(read_only=True)
    override_justification = serializers.SerializerMethodField()
    needs = serializers.ListField(source="service.needs", child=serializers.CharField(), read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta(ReferralSerializer.Meta):
        fields = [
            *ReferralSerializer.Meta.fields,
            "reason",
            "decline_reason",
            "override_justification",
            "needs",
            "actions",
        ]

    def get_override_justification(self, obj: Referral) -> str:
        # The sending side only; the provider is told the basis, not the reasons.
        return obj.override_justification if self.context.get("sending_side") else ""

    def get_actions(self, obj: Referral) -> list[str]:
        return sorted(self.context.get("actions", ()))


class ReferralCreateSerializer(serializers.Serializer[Any]):
    case = serializers.CharField(help_text="public id of the case")
    service = serializers.CharField(help_text="code of a service of the case's country (see /services/)")
    to_agency = serializers.CharField(help_text="public id of the receiving agency")
    from_agency = serializers.CharField(
        required=False, help_text="public id of the sending agency; default: the only one you may refer from"
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    override_basis = serializers.ChoiceField(
        choices=[("", "")] + [(b.value, b.label) for b in services.OVERRIDE_BASES],
        required=False,
        allow_blank=True,
        default="",
        help_text="without the person's consent to this agency: the basis in law",
    )
    override_justification = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000
    )


class DeclineSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=4000)


class DeliverySerializer(serializers.ModelSerializer[ServiceDelivery]):
    id = serializers.CharField(source="public_id", read_only=True)
    recorded_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = ServiceDelivery
        fields = ["id", "start_date", "end_date", "description", "recorded_at"]


class PersonViewSerializer(serializers.Serializer[Any]):
    referral = serializers.CharField()
    person = serializers.DictField(help_text="only the fields the service needs (see the referral's `needs`)")


# --- views -----------------------------------------------------------------------------------------------


STATUS_PARAMETER = OpenApiParameter("status", OpenApiTypes.STR, enum=ReferralStatus.values, required=False)


class ServiceListView(generics.ListAPIView[ServiceType]):
    serializer_class = ServiceTypeSerializer

    @extend_schema(
        summary="The service catalogue",
        parameters=[
            OpenApiParameter("country", OpenApiTypes.STR, description="default: this instance's country")
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ServiceType]:
        country = (self.request.query_params.get("country") or settings.OPENNRM_COUNTRY).upper()
        return ServiceType.objects.filter(country=country, is_active=True).order_by("category", "code")


class ReferralListView(generics.ListCreateAPIView[Referral]):
    serializer_class = ReferralSerializer
    permission_classes = [permissions.IsAuthenticated, HasAnyPerm]

    @property
    def required_perms(self) -> tuple[Perm, ...]:
        if self.request.method == "POST":
            return (Perm.REFERRAL_SEND,)
        return (Perm.CASE_VIEW, Perm.REFERRAL_SEND, Perm.REFERRAL_RESPOND, Perm.SERVICE_RECORD)

    def get_queryset(self) -> QuerySet[Referral]:
        referrals = referrals_visible_to(request_access(self.request)).order_by("-created_at")
        if status_ := self.request.query_params.get("status"):
            referrals = referrals.filter(status=status_)
        if case := self.request.query_params.get("case"):
            referrals = referrals.filter(case__public_id=case)
        return referrals

    @extend_schema(
        summary="Referrals you may see (sent by or to your agencies, or of cases in your scope)",
        parameters=[
            STATUS_PARAMETER,
            OpenApiParameter("case", OpenApiTypes.STR, description="case public id"),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Refer a case to an agency for a service",
        description="Refused (400) without the person's consent to a referral to that agency, unless a basis "
        "the law allows is given (a child: child_best_interests or guardian; anyone: legal_obligation with a "
        "justification). A case you may not refer answers 404.",
        request=ReferralCreateSerializer,
        responses={201: ReferralDetailSerializer, 400: DomainErrorResponse},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = ReferralCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        access = request_access(request)
        case = visible_cases(access).filter(public_id=data["case"]).first()
        if case is None or not can_do(access, Perm.REFERRAL_SEND, case):
            raise Http404
        service = ServiceType.objects.filter(
            country=case.country, code=data["service"], is_active=True
        ).first()
        to_agency = Agency.objects.filter(public_id=data["to_agency"]).first()
        senders = sending_agencies(access, case)
        from_agency = self._from_agency(data.get("from_agency"), senders)
        errors = {}
        if service is None:
            errors["service"] = ["Unknown service for this case's country."]
        if to_agency is None:
            errors["to_agency"] = ["Unknown agency."]
        if from_agency is None:
            errors["from_agency"] = ["Give one of the agencies you may refer this case from."]
        if errors:
            raise serializers.ValidationError(errors)
        assert service is not None and to_agency is not None and from_agency is not None
        try:
            referral = services.refer_to_service(
                actor=_user(request),
                case=case,
                service=service,
                to_agency=to_agency,
                from_agency=from_agency,
                reason=data["reason"],
                override_basis=data["override_basis"],
                override_justification=data["override_justification"],
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            return _refused(error)
        return Response(_detail_data(request, referral), status=status.HTTP_201_CREATED)

    @staticmethod
    def _from_agency(public_id: str | None, senders: list[Agency]) -> Agency | None:
        if public_id:
            return next((a for a in senders if a.public_id == public_id), None)
        return senders[0] if len(senders) == 1 else None


class InboxView(generics.ListAPIView[Referral]):
    serializer_class = ReferralSerializer
    permission_classes = [permissions.IsAuthenticated, HasAnyPerm]
    required_perms = (Perm.REFERRAL_RESPOND,)

    @extend_schema(summary="Referrals received by your agencies", parameters=[STATUS_PARAMETER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Referral]:
        return inbox(request_access(self.request), status=self.request.query_params.get("status") or None)


def _visible_referral(request: Request, public_id: str) -> Referral:
    referral = referrals_visible_to(request_access(request)).filter(public_id=public_id).first()
    if referral is None:
        raise Http404
    return referral


def _detail_data(request: Request, referral: Referral) -> Any:
    access = request_access(request)
    sending_side = can_withdraw(access, referral)
    shown = [name for name in ("reason", "decline_reason") if getattr(referral, name)]
    if sending_side and referral.override_justification:
        shown.append("override_justification")
    if shown:
        audit.record_read(
            actor=_user(request),
            target=referral,
            fields=shown,
            action="referral.read",
            details={"via": "api"},
        )
    context = {"sending_side": sending_side, "actions": allowed_actions(access, referral)}
    return ReferralDetailSerializer(referral, context=context).data


class ReferralDetailView(APIView):
    @extend_schema(summary="One referral", responses=ReferralDetailSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(_detail_data(request, _visible_referral(request, public_id)))


class ReferralPersonView(APIView):
    @extend_schema(
        summary="What the provider may know of the person",
        description="For the receiving agency, while the referral is pending or accepted: only the fields the "
        "service needs. The read is audited.",
        responses=PersonViewSerializer,
    )
    def get(self, request: Request, public_id: str) -> Response:
        referral = _visible_referral(request, public_id)
        if not can_see_person(request_access(request), referral):
            raise Http404
        person = provider_view(actor=_user(request), referral=referral)
        return Response(PersonViewSerializer({"referral": referral.public_id, "person": person}).data)


class _ActionView(APIView):
    action_name = ""

    def act(self, request: Request, referral: Referral) -> Referral:
        raise NotImplementedError

    def post(self, request: Request, public_id: str) -> Response:
        referral = _visible_referral(request, public_id)
        if self.action_name not in allowed_actions(request_access(request), referral):
            raise Http404
        try:
            referral = self.act(request, referral)
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            return _refused(error)
        return Response(_detail_data(request, referral))


_ACTION_RESPONSES = {200: ReferralDetailSerializer, 400: DomainErrorResponse}


class AcceptView(_ActionView):
    action_name = "accept"

    @extend_schema(summary="Accept a referral (receiving agency)", request=None, responses=_ACTION_RESPONSES)
    def post(self, request: Request, public_id: str) -> Response:
        return super().post(request, public_id)

    def act(self, request: Request, referral: Referral) -> Referral:
        return services.accept_referral(actor=_user(request), referral=referral)


class DeclineView(_ActionView):
    action_name = "decline"

    @extend_schema(
        summary="Decline a referral, with the reason (receiving agency)",
        request=DeclineSerializer,
        responses=_ACTION_RESPONSES,
    )
    def post(self, request: Request, public_id: str) -> Response:
        return super().post(request, public_id)

    def act(self, request: Request, referral: Referral) -> Referral:
        payload = DeclineSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return services.decline_referral(
            actor=_user(request), referral=referral, reason=payload.validated_data["reason"]
        )


class CompleteView(_ActionView):
    action_name = "complete"

    @extend_schema(
        summary="Mark an accepted referral as completed (receiving agency)",
        request=None,
        responses=_ACTION_RESPONSES,
    )
    def post(self, request: Request, public_id: str) -> Response:
        return super().post(request, public_id)

    def act(self, request: Request, referral: Referral) -> Referral:
        return services.complete_referral(actor=_user(request), referral=referral)


class WithdrawView(_ActionView):
    action_name = "withdraw"

    @extend_schema(summary="Withdraw a referral (sending side)", request=None, responses=_ACTION_RESPONSES)
    def post(self, request: Request, public_id: str) -> Response:
        return super().post(request, public_id)

    def act(self, request: Request, referral: Referral) -> Referral:
        return services.withdraw_referral(actor=_user(request), referral=referral)


class DeliveryListView(APIView):
    @extend_schema(summary="Services given under a referral", responses=DeliverySerializer(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        referral = _visible_referral(request, public_id)
        deliveries = list(deliveries_of(referral))
        if any(d.description for d in deliveries):
            audit.record_read(
                actor=_user(request),
                target=referral,
                fields=["deliveries.description"],
                action="referral.read",
                details={"via": "api"},
            )
        return Response(DeliverySerializer(deliveries, many=True).data)

    @extend_schema(
        summary="Record a service given (receiving agency, accepted referral)",
        request=DeliverySerializer,
        responses={201: DeliverySerializer, 400: DomainErrorResponse},
    )
    def post(self, request: Request, public_id: str) -> Response:
        referral = _visible_referral(request, public_id)
        if "record" not in allowed_actions(request_access(request), referral):
            raise Http404
        payload = DeliverySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            delivery = services.record_delivery(
                actor=_user(request),
                referral=referral,
                start_date=data["start_date"],
                end_date=data.get("end_date"),
                description=data.get("description", ""),
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            return _refused(error)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_201_CREATED)
