from django.urls import path

from deliveries import views

app_name = "deliveries"
urlpatterns = [
    path("leverancer/", views.delivery_list, name="list"),
    path("leverancer/kommune/<str:code>/", views.kommune_history, name="kommune_history"),
    path("leverancer/upload/", views.upload, name="upload"),
    path("leverancer/<uuid:delivery_uuid>/", views.delivery_detail, name="detail"),
    path("leverancer/<uuid:delivery_uuid>/status/", views.delivery_status, name="status"),
    path("leverancer/<uuid:delivery_uuid>/proev-igen/", views.delivery_retry, name="retry"),
    path("leverancer/<uuid:delivery_uuid>/fil/", views.delivery_download, name="download"),
    path(
        "leverancer/<uuid:delivery_uuid>/rapport.csv", views.delivery_report_csv, name="report_csv"
    ),
]
