"""API routes of the shelters app, included by `opennrm.api_urls` under /api/v1/."""

from django.urls import path

from opennrm.shelters import api

urlpatterns = [
    path("shelters/", api.ShelterListView.as_view(), name="api-shelter-list"),
    path("shelters/occupancy/", api.NationalOccupancyView.as_view(), name="api-shelter-national"),
    path("shelters/<str:public_id>/", api.ShelterDetailView.as_view(), name="api-shelter-detail"),
    path("shelters/<str:public_id>/address/", api.ShelterAddressView.as_view(), name="api-shelter-address"),
    path(
        "shelters/<str:public_id>/occupancy/",
        api.ShelterOccupancyView.as_view(),
        name="api-shelter-occupancy",
    ),
    path("shelters/<str:public_id>/residents/", api.ResidentListView.as_view(), name="api-shelter-residents"),
    path("shelters/<str:public_id>/placements/", api.AdmitView.as_view(), name="api-shelter-admit"),
    path("placements/<str:public_id>/", api.PlacementDetailView.as_view(), name="api-placement-detail"),
    path(
        "placements/<str:public_id>/discharge/", api.DischargeView.as_view(), name="api-placement-discharge"
    ),
    path("placements/<str:public_id>/transfer/", api.TransferView.as_view(), name="api-placement-transfer"),
    path(
        "placements/<str:public_id>/extension/", api.ExtensionView.as_view(), name="api-placement-extension"
    ),
]
