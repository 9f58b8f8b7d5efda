"""URLs of the inspections API, included under /api/v1/ by `opennrm.api_urls`. Every id is a public id."""

from django.urls import path

from opennrm.inspections import api

urlpatterns = [
    path("inspections/", api.InspectionListView.as_view(), name="api-inspection-list"),
    path("inspections/stats/", api.InspectionStatsView.as_view(), name="api-inspection-stats"),
    path("inspections/<str:public_id>/", api.InspectionDetailView.as_view(), name="api-inspection-detail"),
    path(
        "inspections/<str:public_id>/screenings/",
        api.InspectionScreeningsView.as_view(),
        name="api-inspection-screenings",
    ),
    path(
        "worker-screenings/<str:public_id>/", api.ScreeningDetailView.as_view(), name="api-worker-screening"
    ),
    path(
        "worker-screenings/<str:public_id>/complete/",
        api.ScreeningCompleteView.as_view(),
        name="api-worker-screening-complete",
    ),
    path(
        "worker-screenings/<str:public_id>/refer/",
        api.ScreeningReferView.as_view(),
        name="api-worker-screening-refer",
    ),
]
