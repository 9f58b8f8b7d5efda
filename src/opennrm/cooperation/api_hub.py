"""The regional hub's comparison as JSON: GET /api/v1/coop/hub/?year=2026. Included by `opennrm.api_urls`.

The same figures as the hub page, for the same readers (`stats.view`, any scope) and only on the hub instance;
anyone else, and any other instance, gets 404. A figure is `{"value": 12, "state": "exact"}`; `state` is `exact`,
`noisy` (differentially private), `suppressed` (value null) or `missing` (nothing submitted for it, value null).
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opennrm.cooperation import hub
from opennrm.cooperation.views_hub import chosen_year, hub_access


class HubFigureSerializer(serializers.Serializer[Any]):
    value = serializers.IntegerField(allow_null=True)
    state = serializers.ChoiceField(choices=[hub.EXACT, hub.NOISY, hub.SUPPRESSED, hub.MISSING])


class HubLineSerializer(serializers.Serializer[Any]):
    period = serializers.CharField(help_text="2026-Q1 … 2026-Q4, or 2026 for the year")
    category = serializers.CharField()
    figures = serializers.DictField(child=HubFigureSerializer(), help_text="by country code")


class HubIndicatorSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    table = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField())
    lines = HubLineSerializer(many=True)


class HubCountrySerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    country = serializers.CharField()
    local = serializers.BooleanField(help_text="this instance's own figures, computed now")
    method = serializers.JSONField(help_text='{"k": 11, "dp": null} or {"k": null, "dp": {"epsilon": …}}')
    quarters = serializers.IntegerField(help_text="quarters of the year in its figures")
    version = serializers.IntegerField(allow_null=True)
    last_submission = serializers.DateTimeField(allow_null=True)


class HubComparisonSerializer(serializers.Serializer[Any]):
    year = serializers.IntegerField()
    years = serializers.ListField(child=serializers.IntegerField())
    countries = HubCountrySerializer(many=True)
    indicators = HubIndicatorSerializer(many=True)


def comparison_data(comparison: hub.Comparison) -> dict[str, Any]:
    codes = [column.code for column in comparison.columns]
    return {
        "year": comparison.year,
        "years": list(comparison.years),
        "countries": [
            {
                "code": column.code,
                "country": column.country,
                "local": column.local,
                "method": column.method,
                "quarters": column.quarters,
                "version": column.version,
                "last_submission": column.received_at,
            }
            for column in comparison.columns
        ],
        "indicators": [
            {
                "key": indicator.key,
                "table": indicator.table,
                "categories": list(indicator.categories),
                "lines": [
                    {
                        "period": line.period,
                        "category": line.category,
                        "figures": {
                            code: {"value": cell.value, "state": cell.state}
                            for code, cell in zip(codes, line.cells, strict=True)
                        },
                    }
                    for line in indicator.lines
                ],
            }
            for indicator in comparison.indicators
        ],
    }


class HubComparisonView(APIView):
    @extend_schema(
        responses=HubComparisonSerializer,
        parameters=[
            OpenApiParameter("year", OpenApiTypes.INT, description="the year (default: the current one)")
        ],
        summary="The regional hub: the region's indicators by country, by quarter and for the year",
    )
    def get(self, request: Request) -> Response:
        hub_access(request)  # 404 on any other instance and for readers without stats.view
        today = timezone.localdate()
        comparison = hub.comparison(year=chosen_year(request.query_params.get("year"), today), today=today)
        return Response(HubComparisonSerializer(comparison_data(comparison)).data)


urlpatterns: list[URLPattern] = [
    path("hub/", HubComparisonView.as_view(), name="api-coop-hub"),
]
