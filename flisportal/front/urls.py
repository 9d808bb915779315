from django.urls import path

from flisportal.front import trends_views, views

app_name = "front"
urlpatterns = [
    path("", views.start, name="start"),
    path("drift/", views.drift_status, name="drift"),
    path("drift/koer-nu/", views.drift_run_job, name="drift_run_job"),
    # For load balancers and monitoring: no login, no session (docs/operations/driftsstatus.md).
    path("healthz", views.healthz, name="healthz"),
    path("daekning/", views.coverage, name="coverage"),
    path("daekning.csv", views.coverage_csv, name="coverage_csv"),
    path("hjaelp/", views.help_view, name="help"),
    path("kommuner/<str:code>/", views.kommune, name="kommune"),
    path("udvikling/", trends_views.trends_page, name="trends"),
    path("udvikling/<slug:chart>.csv", trends_views.trends_csv, name="trends_csv"),
    path("ibrugtagning/<int:vendor_pk>/<str:code>/", views.onboarding, name="onboarding"),
]
