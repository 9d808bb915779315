"""The project's own AppConfig, and Danish names for third-party apps in the admin.

django-axes, django-rq and django-otp's TOTP plugin name their apps in English («Axes»,
«Django_Rq», «Otp_Totp») in the Danish admin: the first two on the index and in the sidebar,
all three in the permission lists of the user and group pages.
Their AppConfigs are subclassed here with only a Danish `verbose_name`, and INSTALLED_APPS
points at the subclasses: `name` is inherited, so the app label, the migrations, the templates,
the management commands and the packages' own `ready()` stay theirs. A verbose name is not part
of any migration.

The models' names come from the packages. django-axes marks its model and field names for
translation, so their Danish is in `flisportal/locale/da/LC_MESSAGES/django.po` (LOCALE_PATHS
come before an app's own catalogues). django-rq's one model, the dashboard link «Django-RQ»,
keeps its name: it is a plain string, so no catalogue reaches it, and a proxy model would move
the link out of django-rq's section, with a migration of our own and permissions of its own;
the name of the tool is also what the admin finds on the pages it opens, which are django-rq's
own and English. django-otp's «TOTP device» is a plain string too, and shows only in the
permission lists (flisportal/twofactor/admin.py unregisters its admin), so it stays as well.
"""

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpAppConfig
from django_rq.apps import DjangoRqAdminConfig


class FlisportalConfig(AppConfig):
    name = "flisportal"
    verbose_name = "FLIS-portal"
    # This module holds more than one AppConfig (and imports the packages' own): without
    # `default`, Django would take none of them for "flisportal" and use the bare AppConfig,
    # so `ready()` would not run and the system checks would never be registered.
    default = True

    def ready(self) -> None:
        from flisportal import checks  # noqa: F401  (registers the system checks)


class AxesConfig(AxesAppConfig):
    verbose_name = _("Loginspærring")


class RqConfig(DjangoRqAdminConfig):
    verbose_name = _("Jobkøer")


class TotpConfig(TotpAppConfig):
    verbose_name = _("Godkendelsesapp (TOTP)")
