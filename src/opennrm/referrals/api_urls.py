"""API routes of the referrals app, included by `opennrm.api_urls` under /api/v1/."""

from django.urls import path

from opennrm.referrals import api

urlpatterns = [
    path("services/", api.ServiceListView.as_view(), name="api-service-list"),
    path("referrals/", api.ReferralListView.as_view(), name="api-referral-list"),
    path("referrals/inbox/", api.InboxView.as_view(), name="api-referral-inbox"),
    path("referrals/<str:public_id>/", api.ReferralDetailView.as_view(), name="api-referral-detail"),
    path("referrals/<str:public_id>/person/", api.ReferralPersonView.as_view(), name="api-referral-person"),
    path("referrals/<str:public_id>/accept/", api.AcceptView.as_view(), name="api-referral-accept"),
    path("referrals/<str:public_id>/decline/", api.DeclineView.as_view(), name="api-referral-decline"),
    path("referrals/<str:public_id>/complete/", api.CompleteView.as_view(), name="api-referral-complete"),
    path("referrals/<str:public_id>/withdraw/", api.WithdrawView.as_view(), name="api-referral-withdraw"),
    path(
        "referrals/<str:public_id>/deliveries/",
        api.DeliveryListView.as_view(),
        name="api-referral-deliveries",
    ),
]
