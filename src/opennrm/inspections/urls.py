"""Pages of the inspections app, under /inspections/. Every id in a URL is a public id."""

from django.urls import path

from opennrm.inspections import views

app_name = "inspections"

urlpatterns = [
    path("", views.inspection_list, name="list"),
    path("new/", views.inspection_create, name="create"),
    path("stats/", views.statistics, name="stats"),
    path("screenings/<str:public_id>/", views.screening_page, name="screening"),
    path("screenings/<str:public_id>/save/", views.screening_save, name="screening_save"),
    path("screenings/<str:public_id>/refer/", views.refer, name="refer"),
    path("<str:public_id>/", views.inspection_detail, name="detail"),
    path("<str:public_id>/edit/", views.inspection_edit, name="edit"),
    path("<str:public_id>/screen/", views.screening_start, name="screen"),
]
