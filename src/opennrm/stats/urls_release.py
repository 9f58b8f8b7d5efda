"""The coordinators' page to publish a release. Included in `opennrm.stats.urls` (namespace "stats")."""

from django.urls import URLPattern, path

from opennrm.stats import views_release

urlpatterns: list[URLPattern] = [
    path("releases/new/", views_release.release_create, name="release_create"),
]
