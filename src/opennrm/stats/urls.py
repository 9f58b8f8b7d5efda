from django.urls import include, path

from opennrm.stats import views

app_name = "stats"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("tables/<slug:key>.<slug:fmt>", views.download_view, name="download"),
    path("report/", views.report_view, name="report"),
    path("", include("opennrm.stats.urls_exchange")),
    path("", include("opennrm.stats.urls_release")),
]
