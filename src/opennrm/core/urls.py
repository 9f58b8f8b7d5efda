from django.urls import path

from opennrm.core import views

app_name = "core"

urlpatterns = [
    path("", views.home_view, name="home"),
    path("audit/", views.audit_log_view, name="audit_log"),
    path("alerts/<str:public_id>/read/", views.alert_read_view, name="alert_read"),
]
