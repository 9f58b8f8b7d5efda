from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from opennrm.accounts import api as accounts_api

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/me/", accounts_api.MeView.as_view(), name="api-me"),
    path("v1/agencies/", accounts_api.AgencyListView.as_view(), name="api-agency-list"),
    path("v1/agencies/<str:public_id>/", accounts_api.AgencyDetailView.as_view(), name="api-agency-detail"),
    path(
        "v1/agencies/<str:public_id>/staff/", accounts_api.AgencyStaffView.as_view(), name="api-agency-staff"
    ),
    path("v1/", include("opennrm.cases.api_urls")),
    path("v1/", include("opennrm.referrals.api_urls")),
    path("v1/", include("opennrm.shelters.api_urls")),
    path("v1/", include("opennrm.inspections.api_urls")),
    path("v1/", include("opennrm.stats.api_urls")),
    path("v1/coop/", include("opennrm.cooperation.api_hub")),
    path("v1/", include("opennrm.cooperation.api_linkage")),
    path("v1/", include("opennrm.cooperation.api_transnational")),
]
