"""The regional hub's page. Included by `opennrm.cooperation.urls` (namespace "coop")."""

from django.urls import URLPattern, path

from opennrm.cooperation import views_hub

urlpatterns: list[URLPattern] = [
    path("hub/", views_hub.hub_view, name="hub"),
]
