from django.urls import path

from opennrm.cases.views import assistance, case, decisions, intake, listing, screening

app_name = "cases"

urlpatterns = [
    path("", listing.case_list, name="list"),
    path("refer/", intake.refer, name="refer"),
    path("refer/duplicates/", intake.duplicates, name="duplicates"),
    path("notify/", intake.notify, name="notify"),
    path("decisions/", decisions.queue, name="queue"),
    path("decisions/<str:public_id>/", decisions.decide, name="decide"),
    path("plan/<str:public_id>/complete/", assistance.plan_complete, name="plan_complete"),
    path("attachments/<str:public_id>/", assistance.attachment_download, name="attachment"),
    path("compensation/<str:public_id>/pay/", assistance.compensation_pay, name="compensation_pay"),
    path("<str:public_id>/", case.detail, name="detail"),
    path("<str:public_id>/edit/", case.edit, name="edit"),
    path("<str:public_id>/identity/", case.identity, name="identity"),
    path("<str:public_id>/identity/edit/", case.identity_edit, name="identity_edit"),
    path("<str:public_id>/consent/", case.consent, name="consent"),
    path("<str:public_id>/timeline/", case.timeline, name="timeline"),
    path("<str:public_id>/screen/", screening.screen, name="screen"),
    path("<str:public_id>/screen/preview/", screening.preview, name="screen_preview"),
    path("<str:public_id>/decision/request/", decisions.request_decision, name="request_decision"),
    path("<str:public_id>/appeal/", decisions.appeal, name="appeal"),
    path("<str:public_id>/plan/", assistance.plan_add, name="plan_add"),
    path("<str:public_id>/notes/", assistance.note_add, name="note_add"),
    path("<str:public_id>/attachments/", assistance.attachment_add, name="attachment_add"),
    path(
        "<str:public_id>/compensation/approve/", assistance.compensation_approve, name="compensation_approve"
    ),
    path("<str:public_id>/close/", assistance.close, name="close"),
    path("<str:public_id>/reopen/", assistance.reopen, name="reopen"),
]
