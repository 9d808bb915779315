from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from flisportal.twofactor import passwordreset

# The admin's page titles name the portal, not Django («Django-administration»).
admin.site.site_header = _("FLIS-portal · administration")
admin.site.site_title = _("FLIS-portal · administration")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", include("flisportal.front.urls")),
    # «Glemt adgangskode» with the portal's mails (before Django's own views of the same names).
    path(
        "konto/password_reset/",
        passwordreset.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "konto/password_reset/done/",
        passwordreset.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path("konto/", include("flisportal.twofactor.urls")),
    path("konto/", include("django.contrib.auth.urls")),
    path("sso/", include("flisportal.sso.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before the admin: the admin ends in a catch-all that answers 404 for any path it does not
    # know, /admin/rq/… included.
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("", include("routes.urls")),
    path("", include("deliveries.urls")),
    path("", include("deliveries.api.urls")),
    path("", include("flisportal.notifications.urls")),
    path("", include("flisportal.audit.urls")),
]

handler404 = "flisportal.front.views.page_not_found"
handler500 = "flisportal.front.views.server_error"
