"""The shelters API: shelters and their occupancy, the confidential address (an audited read), residents,
admission, and a placement's acts (discharge, transfer, stay extension).

Scoped like the pages: a shelter or placement the user may not see, or an act they may not take on it, answers
404 (the core exception handler turns a refusal on an object into 404). A role that lacks the permission for a
whole endpoint (the shelter list, national occupancy) gets 403. A refused act answers 400 with the translated
message and its code; an act on a placement changed since its `version` was read answers 409.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opennrm.accounts.access import request_access
from opennrm.accounts.models import User
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.referrals.api import DomainErrorResponse
from opennrm.referrals.models import Referral
from opennrm.shelters import selectors, services
from opennrm.shelters.models import Category, DischargeReason, Placement, Shelter


def _user(request: Request) -> User:
    return cast(User, request.user)


def _refused(error: DomainError) -> Response:
    """400 with the translated message and its code; 409 when the placement changed since `version` was read."""
    conflict = isinstance(error, ConcurrentEditError)
    return Response(
        {"detail": " ".join(error.messages), "code": error.code or "invalid"},
        status=status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST,
    )


# --- serializers ---------------------------------------------------------------------------------------------


class PlacesSerializer(serializers.Serializer[Any]):
    women = serializers.IntegerField()
    men = serializers.IntegerField()
    children = serializers.IntegerField()
    families = serializers.IntegerField()


class ShelterSerializer(serializers.Serializer[Any]):
    """A shelter's facts and its occupancy now. Never the address (see /shelters/{id}/address/)."""

    id = serializers.CharField(source="shelter.public_id")
    name = serializers.CharField(source="shelter.name")
    agency = serializers.CharField(source="shelter.agency.public_id")
    agency_name = serializers.CharField(source="shelter.agency.name")
    region = serializers.CharField(source="shelter.region")
    places = PlacesSerializer(source="shelter.capacities")
    occupied = PlacesSerializer()
    wheelchair_accessible = serializers.BooleanField(source="shelter.wheelchair_accessible")
    accessibility_notes = serializers.CharField(source="shelter.accessibility_notes")
    is_active = serializers.BooleanField(source="shelter.is_active")


class AddressSerializer(serializers.Serializer[Any]):
    shelter = serializers.CharField()
    address = serializers.CharField()


class BucketSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    peak = PlacesSerializer(help_text="highest number of people placed on one day, per category")
    peak_total = serializers.IntegerField()
    average_total = serializers.FloatField()
    nights = serializers.IntegerField(help_text="person-nights in the period")


class SeriesSerializer(serializers.Serializer[Any]):
    period = serializers.ChoiceField(choices=list(selectors.PERIODS))
    places = PlacesSerializer(help_text="places of the shelters today (active shelters)")
    occupied = PlacesSerializer(help_text="people placed now")
    buckets = BucketSerializer(many=True)


class PlacementSerializer(serializers.ModelSerializer[Placement]):
    """A placement: case reference, dates, limits. Nothing of the person."""

    id = serializers.CharField(source="public_id", read_only=True)
    case = serializers.CharField(source="case.public_id", read_only=True)
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    shelter = serializers.CharField(source="shelter.public_id", read_only=True)
    shelter_name = serializers.CharField(source="shelter.name", read_only=True)
    referral = serializers.CharField(source="referral.public_id", read_only=True)
    current_limit = serializers.DateField(read_only=True, allow_null=True)
    transferred_to = serializers.CharField(source="transferred_to.public_id", read_only=True, allow_null=True)
    over_capacity = serializers.BooleanField(source="was_over_capacity", read_only=True)

    class Meta:
        model = Placement
        fields = [
            "id",
            "case",
            "case_reference",
            "shelter",
            "shelter_name",
            "referral",
            "category",
            "admitted_at",
            "stay_limit",
            "extended_until",
            "current_limit",
            "stay_maximum",
            "discharged_at",
            "discharge_reason",
            "transferred_to",
            "over_capacity",
            "version",
        ]


class ResidentPersonSerializer(serializers.Serializer[Any]):
    given_name = serializers.CharField()
    sex = serializers.CharField()
    languages = serializers.ListField(child=serializers.CharField())


class ResidentSerializer(serializers.Serializer[Any]):
    placement = PlacementSerializer()
    age_group = serializers.CharField(source="placement.case.age_group")
    is_child = serializers.BooleanField(source="placement.case.is_child")
    person = serializers.SerializerMethodField(
        help_text="for the shelter's staff while the person stays: the minimum the shelter needs; else null"
    )

    def get_person(self, obj: selectors.Resident) -> dict[str, Any] | None:
        if obj.given_name is None:
            return None
        return {"given_name": obj.given_name, "sex": obj.sex, "languages": obj.languages}


class AdmitSerializer(serializers.Serializer[Any]):
    referral = serializers.CharField(
        help_text="public id of an accepted shelter referral to the shelter's agency"
    )
    category = serializers.ChoiceField(choices=Category.choices)
    admitted_at = serializers.DateTimeField(required=False, help_text="default: now")
    accept_over_capacity = serializers.BooleanField(default=False, help_text="coordinators only")
    over_capacity_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )


class DischargeSerializer(serializers.Serializer[Any]):
    reason = serializers.ChoiceField(
        choices=[c for c in DischargeReason.choices if c[0] != DischargeReason.TRANSFERRED]
    )
    discharged_at = serializers.DateTimeField(required=False, help_text="default: now")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    version = serializers.IntegerField(required=False, help_text="the version you read (optimistic locking)")


class TransferSerializer(serializers.Serializer[Any]):
    shelter = serializers.CharField(help_text="public id of the shelter to move to")
    category = serializers.ChoiceField(
        choices=Category.choices, required=False, help_text="default: the same"
    )
    transferred_at = serializers.DateTimeField(required=False, help_text="default: now")
    accept_over_capacity = serializers.BooleanField(default=False, help_text="coordinators only")
    over_capacity_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )
    version = serializers.IntegerField(required=False)


class ExtensionSerializer(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=[("extend", "extend"), ("refuse", "refuse")])
    until = serializers.DateField(required=False, allow_null=True, help_text="needed to extend")
    reason = serializers.CharField(max_length=2000)
    version = serializers.IntegerField(required=False)


class ExtensionDecisionSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    granted = serializers.BooleanField()
    previous_until = serializers.DateField(allow_null=True)
    new_until = serializers.DateField(allow_null=True)
    placement = PlacementSerializer()


# --- helpers ---------------------------------------------------------------------------------------------------


def _shelter(request: Request, public_id: str) -> Shelter:
    shelter = selectors.visible_shelters(request_access(request)).filter(public_id=public_id).first()
    if shelter is None:
        raise Http404
    return shelter


def _placement(request: Request, public_id: str) -> Placement:
    placement = selectors.visible_placements(request_access(request)).filter(public_id=public_id).first()
    if placement is None:
        raise Http404
    return placement


def _shelter_data(shelters: list[Shelter]) -> list[dict[str, Any]]:
    occupancy = selectors.current_occupancy(shelters)
    rows = [
        {"shelter": s, "occupied": {c.value: occupancy[s.pk].occupied.get(c.value, 0) for c in Category}}
        for s in shelters
    ]
    return list(ShelterSerializer(rows, many=True).data)


def _series(shelters: Any, capacity: dict[str, int], occupied: dict[str, int], period: str) -> dict[str, Any]:
    buckets = selectors.occupancy_series(shelters, period=period)
    return dict(
        SeriesSerializer(
            {
                "period": period,
                "places": capacity,
                "occupied": {c.value: occupied.get(c.value, 0) for c in Category},
                "buckets": [
                    {
                        "start": b.start,
                        "end": b.end,
                        "peak": b.peak,
                        "peak_total": b.peak_total,
                        "average_total": b.average_total,
                        "nights": b.nights,
                    }
                    for b in buckets
                ],
            }
        ).data
    )


def _period(request: Request) -> str:
    period = request.query_params.get("period", selectors.DEFAULT_PERIOD)
    if period not in selectors.PERIODS:
        raise serializers.ValidationError({"period": [f"Use one of: {', '.join(selectors.PERIODS)}."]})
    return period


PERIOD_PARAMETER = OpenApiParameter("period", OpenApiTypes.STR, enum=list(selectors.PERIODS), required=False)


# --- views -----------------------------------------------------------------------------------------------------


class ShelterListView(APIView):
    @extend_schema(
        summary="Shelters you may see, with their places and occupancy now",
        responses=ShelterSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        access = request_access(request)
        if not selectors.uses_shelters(access):
            raise exceptions.PermissionDenied
        return Response(_shelter_data(list(selectors.visible_shelters(access).order_by("name"))))


class NationalOccupancyView(APIView):
    @extend_schema(
        summary="National occupancy now and over time (coordinators, analysts)",
        operation_id="shelters_national_occupancy",
        parameters=[PERIOD_PARAMETER],
        responses=SeriesSerializer,
    )
    def get(self, request: Request) -> Response:
        access = request_access(request)
        if not selectors.sees_national_occupancy(access):
            raise exceptions.PermissionDenied
        shelters_qs = selectors.visible_shelters(access)
        shelters = list(shelters_qs)
        total = selectors.total_occupancy(selectors.current_occupancy(shelters).values(), shelters)
        return Response(_series(shelters_qs, total.capacity, total.occupied, _period(request)))


class ShelterDetailView(APIView):
    @extend_schema(summary="One shelter, with its occupancy now", responses=ShelterSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(_shelter_data([_shelter(request, public_id)])[0])


class ShelterAddressView(APIView):
    @extend_schema(
        summary="The confidential address (the shelter's staff and coordinators; the read is audited)",
        responses=AddressSerializer,
    )
    def get(self, request: Request, public_id: str) -> Response:
        shelter = _shelter(request, public_id)
        try:
            address = selectors.read_address(actor=_user(request), shelter=shelter, via="api")
        except PermissionDenied:
            raise Http404 from None
        return Response(AddressSerializer({"shelter": shelter.public_id, "address": address}).data)


class ShelterOccupancyView(APIView):
    @extend_schema(
        summary="A shelter's occupancy over time", parameters=[PERIOD_PARAMETER], responses=SeriesSerializer
    )
    def get(self, request: Request, public_id: str) -> Response:
        shelter = _shelter(request, public_id)
        occupied = selectors.current_occupancy([shelter])[shelter.pk].occupied
        data = _series(Shelter.objects.filter(pk=shelter.pk), shelter.capacities, occupied, _period(request))
        return Response(data)


class ResidentListView(APIView):
    @extend_schema(
        summary="The people placed in a shelter now",
        description="For the shelter's staff, with the minimum the shelter needs of each person (audited reads); "
        "for coordinators, the placements without the person.",
        responses=ResidentSerializer(many=True),
    )
    def get(self, request: Request, public_id: str) -> Response:
        shelter = _shelter(request, public_id)
        if not selectors.can_see_placements(request_access(request), shelter):
            raise Http404
        residents = selectors.residents(actor=_user(request), shelter=shelter, via="api")
        return Response(ResidentSerializer(residents, many=True).data)


class AdmitView(APIView):
    @extend_schema(
        summary="Admit a person on an accepted shelter referral",
        description="Refused (400, code over_capacity) when the category is full, unless a coordinator sets "
        "accept_over_capacity with a reason (audited).",
        request=AdmitSerializer,
        responses={201: PlacementSerializer, 400: DomainErrorResponse},
    )
    def post(self, request: Request, public_id: str) -> Response:
        shelter = _shelter(request, public_id)
        if not selectors.can_admit(request_access(request), shelter):
            raise Http404
        payload = AdmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        referral = Referral.objects.filter(public_id=data["referral"], to_agency_id=shelter.agency_id).first()
        if referral is None:
            raise serializers.ValidationError(
                {"referral": ["No referral with this id to this shelter's agency."]}
            )
        try:
            placement = services.admit(
                actor=_user(request),
                shelter=shelter,
                referral=referral,
                category=data["category"],
                at=data.get("admitted_at"),
                accept_over_capacity=data["accept_over_capacity"],
                over_capacity_reason=data["over_capacity_reason"],
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            return _refused(error)
        return Response(PlacementSerializer(placement).data, status=status.HTTP_201_CREATED)


class PlacementDetailView(APIView):
    @extend_schema(summary="One placement", responses=PlacementSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(PlacementSerializer(_placement(request, public_id)).data)


class DischargeView(APIView):
    @extend_schema(
        summary="The person leaves the shelter (the shelter's staff)",
        request=DischargeSerializer,
        responses={200: PlacementSerializer, 400: DomainErrorResponse, 409: DomainErrorResponse},
    )
    def post(self, request: Request, public_id: str) -> Response:
        placement = _placement(request, public_id)
        if not selectors.operates(request_access(request), placement.shelter):
            raise Http404
        payload = DischargeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            placement = services.discharge(
                actor=_user(request),
                placement=placement,
                reason=data["reason"],
                at=data.get("discharged_at"),
                note=data["note"],
                expected_version=data.get("version"),
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            return _refused(error)
        return Response(PlacementSerializer(placement).data)


class TransferView(APIView):
    @extend_schema(
        summary="Move the person to another shelter",
        description="Staff: between their agency's shelters. Coordinators: to any shelter; to another agency's "
        "only on an accepted shelter referral to it.",
        request=TransferSerializer,
        responses={201: PlacementSerializer, 400: DomainErrorResponse, 409: DomainErrorResponse},
    )
    def post(self, request: Request, public_id: str) -> Response:
        placement = _placement(request, public_id)
        access = request_access(request)
        if not (
            selectors.operates(access, placement.shelter) or selectors.oversees(access, placement.shelter)
        ):
            raise Http404
        payload = TransferSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        target = selectors.transfer_targets(access, placement).filter(public_id=data["shelter"]).first()
        if target is None:
            raise serializers.ValidationError(
                {"shelter": ["No open shelter with this id that you may move people to."]}
            )
        try:
            new = services.transfer(
                actor=_user(request),
                placement=placement,
                to_shelter=target,
                category=data.get("category", ""),
                at=data.get("transferred_at"),
                accept_over_capacity=data["accept_over_capacity"],
                over_capacity_reason=data["over_capacity_reason"],
                expected_version=data.get("version"),
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            return _refused(error)
        return Response(PlacementSerializer(new).data, status=status.HTTP_201_CREATED)


class ExtensionView(APIView):
    @extend_schema(
        summary="Decide on extending the stay (coordinators)",
        description="Extend to a date no later than the maximum of the country's rules, or refuse; with reasons.",
        request=ExtensionSerializer,
        responses={201: ExtensionDecisionSerializer, 400: DomainErrorResponse, 409: DomainErrorResponse},
    )
    def post(self, request: Request, public_id: str) -> Response:
        placement = _placement(request, public_id)
        if not selectors.oversees(request_access(request), placement.shelter):
            raise Http404
        payload = ExtensionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            decision = services.decide_extension(
                actor=_user(request),
                placement=placement,
                extend=data["decision"] == "extend",
                until=data.get("until"),
                reason=data["reason"],
                expected_version=data.get("version"),
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            return _refused(error)
        return Response(ExtensionDecisionSerializer(decision).data, status=status.HTTP_201_CREATED)
