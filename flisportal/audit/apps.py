from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "flisportal.audit"
    label = "audit"
    verbose_name = _("Revision")

    def ready(self) -> None:
        # Logins are recorded through Django's auth signals. The project keeps logic out of
        # signals, but these are Django's own public API for "someone logged in / failed to":
        # the login view has no other hook, and wrapping it would miss the admin's login.
        from flisportal.audit import signals  # noqa: F401
