from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TwoFactorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "flisportal.twofactor"
    label = "twofactor"
    verbose_name = _("To-faktor og sessioner")

    def ready(self) -> None:
        # Logging out drops the session's row, through Django's own auth signal: the logout view
        # has no other hook (the same reason as the audit log's login signals).
        from flisportal.twofactor import signals  # noqa: F401
