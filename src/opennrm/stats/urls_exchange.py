"""Exports and imports in HTCDS 2.0 and the CTDC layout. Included by `stats/urls.py` (namespace "stats"):
`path("", include("opennrm.stats.urls_exchange"))`, so the names below are `stats:exchange_*`."""

from django.urls import path

from opennrm.stats import views_exchange as views

urlpatterns = [
    path("export/", views.export_page, name="exchange_export"),
    path("export/htcds.csv", views.export_htcds, {"file_format": "csv"}, name="exchange_export_htcds_csv"),
    path(
        "export/htcds.jsonl", views.export_htcds, {"file_format": "jsonl"}, name="exchange_export_htcds_jsonl"
    ),
    path("export/ctdc.csv", views.export_ctdc, name="exchange_export_ctdc_csv"),
    path("import/", views.import_page, name="exchange_import"),
    path("import/<str:public_id>/", views.import_job, name="exchange_import_job"),
    path("import/<str:public_id>/progress/", views.import_progress, name="exchange_import_progress"),
    path("import/<str:public_id>/report.csv", views.import_report, name="exchange_import_report"),
    path("import/<str:public_id>/run/", views.import_rerun, name="exchange_import_run"),
]
