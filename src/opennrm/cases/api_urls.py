"""URLs of the cases API, included under /api/v1/ by `opennrm.api_urls`. Every id is a public id."""

from django.urls import path

from opennrm.cases import api

urlpatterns = [
    path("cases/", api.CaseListView.as_view(), name="api-case-list"),
    path("cases/search/", api.CaseSearchView.as_view(), name="api-case-search"),
    path("cases/<str:public_id>/", api.CaseDetailView.as_view(), name="api-case-detail"),
    path("cases/<str:public_id>/identity/", api.CaseIdentityView.as_view(), name="api-case-identity"),
    path("cases/<str:public_id>/consents/", api.ConsentListView.as_view(), name="api-case-consents"),
    path("cases/<str:public_id>/screenings/", api.ScreeningListView.as_view(), name="api-case-screenings"),
    path(
        "cases/<str:public_id>/decision-requests/",
        api.DecisionRequestView.as_view(),
        name="api-case-decision-requests",
    ),
    path("cases/<str:public_id>/appeal/", api.AppealView.as_view(), name="api-case-appeal"),
    path("cases/<str:public_id>/plan/", api.PlanView.as_view(), name="api-case-plan"),
    path("cases/<str:public_id>/notes/", api.NoteListView.as_view(), name="api-case-notes"),
    path("cases/<str:public_id>/attachments/", api.AttachmentListView.as_view(), name="api-case-attachments"),
    path(
        "cases/<str:public_id>/compensation/",
        api.CompensationApproveView.as_view(),
        name="api-case-compensation",
    ),
    path("cases/<str:public_id>/close/", api.CloseView.as_view(), name="api-case-close"),
    path("cases/<str:public_id>/reopen/", api.ReopenView.as_view(), name="api-case-reopen"),
    path("cases/<str:public_id>/timeline/", api.TimelineView.as_view(), name="api-case-timeline"),
    path("notifications/", api.NotificationView.as_view(), name="api-notifications"),
    path(
        "consents/<str:public_id>/withdraw/", api.ConsentWithdrawView.as_view(), name="api-consent-withdraw"
    ),
    path("screening/instruments/", api.InstrumentListView.as_view(), name="api-screening-instruments"),
    path("screening/evaluate/", api.EvaluateView.as_view(), name="api-screening-evaluate"),
    path("decisions/queue/", api.DecisionQueueView.as_view(), name="api-decision-queue"),
    path("decisions/<str:public_id>/decide/", api.DecideView.as_view(), name="api-decision-decide"),
    path("plan/<str:public_id>/complete/", api.PlanCompleteView.as_view(), name="api-plan-complete"),
    path("attachments/<str:public_id>/", api.AttachmentDownloadView.as_view(), name="api-attachment"),
    path("compensation/<str:public_id>/pay/", api.CompensationPayView.as_view(), name="api-compensation-pay"),
]
