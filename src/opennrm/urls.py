from django.contrib import admin
from django.urls import include, path

from opennrm.core import views as core_views

urlpatterns = [
    path("", include("opennrm.core.urls")),
    path("accounts/", include("opennrm.accounts.urls")),
    path("cases/", include("opennrm.cases.urls")),
    path("referrals/", include("opennrm.referrals.urls")),
    path("shelters/", include("opennrm.shelters.urls")),
    path("inspections/", include("opennrm.inspections.urls")),
    path("stats/", include("opennrm.stats.urls")),
    path("public/", include("opennrm.stats.public_urls")),
    path("coop/v1/", include("opennrm.cooperation.inbox_urls")),
    path("coop/", include("opennrm.cooperation.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("opennrm.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", core_views.health_view, name="health"),
]
