from django.apps import AppConfig


class ServiceplatformConfig(AppConfig):
    """The Serviceplatform stand-in (`manage.py serviceplatform`): an SFTP server that routes
    triggers like KOMBIT's, for development and tests. The portal itself never imports it."""

    name = "deliveries.serviceplatform"
    label = "serviceplatform"
    verbose_name = "Serviceplatform (lokal stand-in)"
    default_auto_field = "django.db.models.BigAutoField"
