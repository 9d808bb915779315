from django.urls import path

from flisportal.audit import views

app_name = "audit"
urlpatterns = [
    path("revision/", views.audit_log, name="log"),
    path("revision.csv", views.audit_log_csv, name="log_csv"),
]
