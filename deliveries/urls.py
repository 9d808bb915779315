from django.urls import path

from deliveries import batch_views, contract_views, views
from deliveries.hent import views as inbox_views

app_name = "deliveries"
urlpatterns = [
    path("leverancer/", views.delivery_list, name="list"),
    path("leverancer.csv", views.delivery_list_csv, name="list_csv"),
    path("leverancer/kommune/<str:code>/", views.kommune_history, name="kommune_history"),
    path("leverancer/upload/", views.upload, name="upload"),
    path("leverancer/samlet/", batch_views.batch_upload, name="batch_upload"),
    path("leverancer/samlet/<uuid:batch_uuid>/", batch_views.batch_preview, name="batch"),
    path(
        "leverancer/samlet/<uuid:batch_uuid>/fil/<int:pk>/",
        batch_views.batch_file,
        name="batch_file",
    ),
    path(
        "leverancer/samlet/<uuid:batch_uuid>/fil/<int:pk>/fjern/",
        batch_views.batch_file_drop,
        name="batch_file_drop",
    ),
    path(
        "leverancer/samlet/<uuid:batch_uuid>/send/", batch_views.batch_confirm, name="batch_confirm"
    ),
    path(
        "leverancer/samlet/<uuid:batch_uuid>/fremdrift/",
        batch_views.batch_progress,
        name="batch_progress",
    ),
    path(
        "leverancer/samlet/<uuid:batch_uuid>/status/", batch_views.batch_status, name="batch_status"
    ),
    path("leverancer/udestaaende/", views.outstanding, name="outstanding"),
    path("leverancer/udestaaende.csv", views.outstanding_csv, name="outstanding_csv"),
    path("leverancer/kontrol/<uuid:check_uuid>/", views.file_check_detail, name="check"),
    path(
        "leverancer/kontrol/<uuid:check_uuid>/rapport.csv",
        views.file_check_report_csv,
        name="check_report_csv",
    ),
    path("leverancer/<uuid:delivery_uuid>/", views.delivery_detail, name="detail"),
    path("leverancer/<uuid:delivery_uuid>/status/", views.delivery_status, name="status"),
    path("leverancer/<uuid:delivery_uuid>/proev-igen/", views.delivery_retry, name="retry"),
    path("leverancer/<uuid:delivery_uuid>/fil/", views.delivery_download, name="download"),
    path(
        "leverancer/<uuid:delivery_uuid>/rapport.csv", views.delivery_report_csv, name="report_csv"
    ),
    path("kontrakter/", contract_views.contract_index, name="contracts"),
    path(
        "kontrakter/<slug:area_code>/<str:version>/",
        contract_views.contract_detail,
        name="contract",
    ),
    path(
        "kontrakter/<slug:area_code>/<str:version>/skabelon.csv",
        contract_views.contract_template,
        name="contract_template",
    ),
    path("indbakke/", inbox_views.inbox, name="inbox"),
    path("indbakke/eksport.csv", inbox_views.inbox_csv, name="inbox_csv"),
    path("indbakke/<uuid:receipt_uuid>/", inbox_views.receipt_detail, name="receipt"),
    path(
        "indbakke/<uuid:receipt_uuid>/fil/", inbox_views.receipt_download, name="receipt_download"
    ),
]
