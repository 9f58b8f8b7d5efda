from django.urls import path

from opennrm.shelters import views

app_name = "shelters"

urlpatterns = [
    path("", views.list_view, name="list"),
    path("occupancy/", views.national_view, name="national"),
    path("new/", views.create_view, name="create"),
    path("placements/<str:public_id>/", views.placement_view, name="placement"),
    path("placements/<str:public_id>/discharge/", views.discharge_view, name="discharge"),
    path("placements/<str:public_id>/transfer/", views.transfer_view, name="transfer"),
    path("placements/<str:public_id>/extend/", views.extend_view, name="extend"),
    path("<str:public_id>/", views.detail_view, name="detail"),
    path("<str:public_id>/edit/", views.edit_view, name="edit"),
    path("<str:public_id>/address/", views.address_view, name="address"),
    path("<str:public_id>/occupancy/", views.occupancy_view, name="occupancy"),
    path("<str:public_id>/residents/", views.residents_view, name="residents"),
    path("<str:public_id>/admit/", views.admit_view, name="admit"),
]
