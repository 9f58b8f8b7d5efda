from django.urls import path

from opennrm.referrals import views

app_name = "referrals"

urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("case/<str:case_public_id>/new/", views.create_view, name="create"),
    path("<str:public_id>/", views.detail_view, name="detail"),
    path("<str:public_id>/accept/", views.accept_view, name="accept"),
    path("<str:public_id>/decline/", views.decline_view, name="decline"),
    path("<str:public_id>/complete/", views.complete_view, name="complete"),
    path("<str:public_id>/withdraw/", views.withdraw_view, name="withdraw"),
    path("<str:public_id>/deliveries/", views.delivery_view, name="delivery_add"),
]
