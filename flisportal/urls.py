from django.contrib import admin
from django.urls import include, path

from flisportal import views

urlpatterns = [
    path("", views.start, name="start"),
    path("drift/", views.drift_status, name="drift"),
    # For load balancers and monitoring: no login, no session (README, Drift og pålidelighed).
    path("healthz", views.healthz, name="healthz"),
    path("konto/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("admin/rq/", include("django_rq.urls")),
    path("", include("routes.urls")),
    path("", include("deliveries.urls")),
    path("", include("flisportal.notifications.urls")),
    path("", include("flisportal.audit.urls")),
]

handler404 = "flisportal.views.page_not_found"
handler500 = "flisportal.views.server_error"
