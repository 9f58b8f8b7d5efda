"""Record-linkage pages, included by `cooperation.urls` (namespace "coop")."""

from django.urls import path

from opennrm.cooperation import views_linkage

urlpatterns = [
    path("linkage/case/<str:public_id>/ask/", views_linkage.ask, name="linkage_ask"),
    path("linkage/duplicates/", views_linkage.duplicates, name="linkage_duplicates"),
]
