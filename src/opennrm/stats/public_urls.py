"""Public pages (no login): the releases of de-identified figures and their files."""

from django.urls import URLPattern, path

from opennrm.stats import views_release

app_name = "public"

urlpatterns: list[URLPattern] = [
    path("", views_release.release_list, name="releases"),
    path("releases/<str:public_id>/", views_release.release_detail, name="release"),
    path("releases/<str:public_id>/files/<str:name>", views_release.release_file, name="release_file"),
]
