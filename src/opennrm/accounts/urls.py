from django.urls import path

from opennrm.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("2fa/verify/", views.verify_view, name="verify"),
    path("2fa/enrol/", views.enroll_view, name="enroll"),
    path("logout/", views.logout_view, name="logout"),
    path("logout/everywhere/", views.logout_everywhere_view, name="logout_everywhere"),
    path("profile/", views.profile_view, name="profile"),
    path("profile/tokens/<str:public_id>/revoke/", views.revoke_token_view, name="revoke_token"),
    path("agencies/", views.agency_list_view, name="agency_list"),
    path("agencies/<str:public_id>/", views.agency_detail_view, name="agency_detail"),
]
