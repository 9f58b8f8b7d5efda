"""The record-linkage API, included by `opennrm.api_urls` under /api/v1/.

- POST /cases/<id>/linkage-queries/ {"partner": "UA"}: ask a partner whether it knows the person of the case.
- GET  /cases/<id>/linkage-queries/: the case's questions and their answers.
- GET  /linkage-queries/<id>/: one question with its candidates (the partner's case references and scores).

For who runs the case (case edit reaching it), like the case page's panel: a case or query the user may not see
or not act on answers 404, whatever the role (every endpoint names an object).
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.models import Case
from opennrm.cases.selectors import visible_cases
from opennrm.cooperation import linkage_service as service
from opennrm.cooperation.models import LinkageCandidate, LinkageQuery, Partner, PartnerStatus
from opennrm.core.errors import DomainError


class CandidateSerializer(serializers.ModelSerializer[LinkageCandidate]):
    reference = serializers.CharField(source="remote_reference", read_only=True)

    class Meta:
        model = LinkageCandidate
        fields = ["reference", "score"]


class LinkageQuerySerializer(serializers.ModelSerializer[LinkageQuery]):
    id = serializers.CharField(source="public_id", read_only=True)
    case = serializers.CharField(source="case.public_id", read_only=True)
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    partner = serializers.CharField(source="partner.code", read_only=True)
    candidates = CandidateSerializer(many=True, read_only=True)

    class Meta:
        model = LinkageQuery
        fields = [
            "id",
            "query_id",
            "case",
            "case_reference",
            "partner",
            "status",
            "created_at",
            "answered_at",
            "candidates",
        ]


class AskSerializer(serializers.Serializer[Any]):
    partner = serializers.CharField(max_length=16, help_text="The partner instance's code, e.g. UA")


class _LinkageView(APIView):
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DomainError):
            return Response(
                {"detail": " ".join(exc.messages), "code": exc.code or "invalid"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return super().handle_exception(exc)

    def access(self) -> Access:
        access = request_access(self.request)
        if not access.has(Perm.CASE_EDIT):
            raise Http404
        return access

    def case(self, public_id: str) -> Case:
        access = self.access()
        case = visible_cases(access).filter(public_id=public_id).first()
        if case is None or not service.can_query(access, case):
            raise Http404
        return case


def _queries() -> Any:
    return LinkageQuery.objects.select_related("case", "partner").prefetch_related("candidates")


class CaseLinkageQueriesView(_LinkageView):
    @extend_schema(
        tags=["cooperation"],
        summary="Record-linkage questions about the person of a case, with the partners' answers",
        responses=LinkageQuerySerializer(many=True),
    )
    def get(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id)
        queries = _queries().filter(case=case).order_by("-created_at")
        return Response(LinkageQuerySerializer(queries, many=True).data)

    @extend_schema(
        tags=["cooperation"],
        summary="Ask a partner country whether it knows the person of a case",
        description="Only keyed encodings of the name, date of birth and sex are sent (no consent is needed to "
        "ask). The partner answers later with its case references and similarity scores, never a name; any "
        "exchange of data after a match needs the person's consent to sharing with that country.",
        request=AskSerializer,
        responses={201: LinkageQuerySerializer},
    )
    def post(self, request: Request, public_id: str) -> Response:
        case = self.case(public_id)
        data = AskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        partner = Partner.objects.filter(
            code=data.validated_data["partner"].strip().upper(), status=PartnerStatus.ACTIVE
        ).first()
        if partner is None:
            raise serializers.ValidationError({"partner": [_("No active partner instance has this code.")]})
        try:
            query = service.query_partner(actor=cast(User, request.user), case=case, partner=partner)
        except PermissionDenied:
            raise Http404 from None
        return Response(
            LinkageQuerySerializer(_queries().get(pk=query.pk)).data, status=status.HTTP_201_CREATED
        )


class LinkageQueryDetailView(_LinkageView):
    @extend_schema(
        tags=["cooperation"],
        summary="One record-linkage question with the partner's candidates",
        responses=LinkageQuerySerializer,
    )
    def get(self, request: Request, public_id: str) -> Response:
        access = self.access()
        query = _queries().filter(public_id=public_id, case__in=visible_cases(access)).first()
        if query is None or not service.can_query(access, query.case):
            raise Http404
        return Response(LinkageQuerySerializer(query).data)


urlpatterns = [
    path(
        "cases/<str:public_id>/linkage-queries/",
        CaseLinkageQueriesView.as_view(),
        name="api-case-linkage-queries",
    ),
    path(
        "linkage-queries/<str:public_id>/",
        LinkageQueryDetailView.as_view(),
        name="api-linkage-query-detail",
    ),
]
