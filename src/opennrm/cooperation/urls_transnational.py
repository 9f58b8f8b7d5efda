"""Pages of transnational referrals, under /coop/ in the "coop" namespace (included by `cooperation/urls.py`)."""

from django.urls import path

from opennrm.cooperation import views_transnational as views

urlpatterns = [
    path("referrals/", views.inbox_view, name="transnational_inbox"),
    path("referrals/sent/", views.sent_view, name="transnational_sent"),
    path("referrals/case/<str:case_public_id>/new/", views.create_view, name="transnational_create"),
    path("referrals/<str:public_id>/", views.detail_view, name="transnational_detail"),
    path("referrals/<str:public_id>/accept/", views.accept_view, name="transnational_accept"),
    path("referrals/<str:public_id>/decline/", views.decline_view, name="transnational_decline"),
    path("referrals/<str:public_id>/updates/", views.update_view, name="transnational_update"),
]
