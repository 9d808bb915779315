from django.apps import AppConfig


class FlisportalConfig(AppConfig):
    name = "flisportal"
    verbose_name = "FLIS-portal"

    def ready(self) -> None:
        from flisportal import checks  # noqa: F401  (registers the system checks)
