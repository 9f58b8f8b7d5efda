from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opennrm.accounts.access import request_access
from opennrm.accounts.models import Agency, Membership
from opennrm.accounts.selectors import agencies_visible_to, agencies_with_staff_visible_to, staff_of


class AgencySerializer(serializers.ModelSerializer[Agency]):
    id = serializers.CharField(source="public_id", read_only=True)

    class Meta:
        model = Agency
        fields = ["id", "name", "short_name", "kind", "country", "region", "is_active"]


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    id = serializers.CharField(source="public_id", read_only=True)
    agency = AgencySerializer(read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "user", "agency", "role", "scope", "valid_from", "expires_at", "permissions"]

    def get_permissions(self, obj: Membership) -> list[str]:
        return sorted(str(p) for p in obj.permissions)


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    username = serializers.CharField()
    memberships = MembershipSerializer(many=True)


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The authenticated user and their active memberships")
    def get(self, request: Request) -> Response:
        access = request_access(request)
        data = {
            "id": request.user.public_id,  # type: ignore[union-attr]
            "username": request.user.get_username(),
            "memberships": access.memberships,
        }
        return Response(MeSerializer(data).data)


class AgencyListView(generics.ListAPIView[Agency]):
    serializer_class = AgencySerializer

    def get_queryset(self) -> QuerySet[Agency]:
        return agencies_visible_to(request_access(self.request)).order_by("name")


class AgencyDetailView(generics.RetrieveAPIView[Agency]):
    serializer_class = AgencySerializer
    lookup_field = "public_id"

    def get_queryset(self) -> QuerySet[Agency]:
        return agencies_visible_to(request_access(self.request))


class AgencyStaffView(generics.ListAPIView[Membership]):
    serializer_class = MembershipSerializer

    def get_queryset(self) -> QuerySet[Membership]:
        access = request_access(self.request)
        agency = get_object_or_404(agencies_with_staff_visible_to(access), public_id=self.kwargs["public_id"])
        return staff_of(access=access, agency=agency)
