"""The admin names third-party apps in Danish (flisportal/apps.py): django-axes as
«Loginspærring» with Danish model names from the portal's Danish catalogue, django-rq as
«Jobkøer», django-otp's TOTP plugin as «Godkendelsesapp (TOTP)», without changing the packages'
app labels, migrations or pages."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.conf import settings
from django.core.checks.registry import registry
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse

from flisportal.apps import AxesConfig, FlisportalConfig, RqConfig, TotpConfig

pytestmark = pytest.mark.django_db


def test_admin_index_names_axes_and_django_rq_in_danish(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    # App headings: ours, not the packages' «Axes» and «Django_Rq» (Django's title-cased labels).
    for danish in (">Loginspærring</a>", ">Jobkøer</a>"):
        assert danish in html
    for english in ("Axes", "Django_Rq"):
        assert english not in html
    # django-axes' model names, from flisportal/locale/da/.
    for danish in (">Loginforsøg</a>", ">Fejlede logins</a>", ">Adgangslog</a>"):
        assert danish in html
    for english in ("Access attempts", "Access failures", "Access logs"):
        assert english not in html


def test_admin_pages_name_the_portal_not_django(admin_client):
    """The title and the header of every admin page (flisportal/urls.py), not Django's
    «Django-administration» / «Django site admin»."""
    html = admin_client.get(reverse("admin:index")).content.decode()
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    header = re.search(r'id="site-name">(.*?)</div>', html, re.S).group(1)
    assert "FLIS-portal · administration" in title and "Django" not in title
    assert "FLIS-portal · administration" in header and "Django" not in header


def test_axes_list_is_danish_down_to_its_columns(admin_client):
    """The catalogue reaches django-axes' field and filter names too, not only the index."""
    AccessAttempt.objects.create(
        username="ada",
        ip_address="192.0.2.7",
        user_agent="pytest",
        http_accept="text/html",
        path_info="/login/",
        get_data="",
        post_data="",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )
    html = admin_client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    for danish in ("Vælg loginforsøg, der skal ændres", "IP-adresse", "Fejlede logins", "Spærret"):
        assert danish in html
    for english in ("access attempt", "IP Address", "Failed Logins", "Locked Out"):
        assert english not in html


def test_permission_lists_name_the_apps_in_danish(admin_client):
    """A group's (and a user's) permissions are listed as «app | model | permission»."""
    html = admin_client.get(reverse("admin:auth_group_add")).content.decode()
    for danish in (">Loginspærring | ", ">Jobkøer | ", ">Godkendelsesapp (TOTP) | "):
        assert danish in html
    for english in ("Axes", "Django_Rq", "Otp_Totp"):
        assert english not in html


def test_english_admin_gets_english_names(admin_client):
    """The Danish names are translated like the portal's own (flisportal/locale/en/)."""
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = admin_client.get(reverse("admin:index")).content.decode()
    for english in (">Login lockout</a>", ">Job queues</a>", ">Access attempts</a>"):
        assert english in html
    assert "Loginspærring" not in html


def test_the_packages_keep_their_labels_and_migrations():
    """Only the name changes: the label (tables, permissions, admin URLs, migration records in
    the database) and the module (migrations, templates, commands) are still the packages'."""
    for label, config_class, module in (
        ("axes", AxesConfig, "axes"),
        ("django_rq", RqConfig, "django_rq"),
        ("otp_totp", TotpConfig, "django_otp.plugins.otp_totp"),
    ):
        config = apps.get_app_config(label)
        assert type(config) is config_class
        assert config.name == module
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert ("axes", "0010_accessattemptexpiration") in loader.disk_migrations
    assert ("django_rq", "0003_alter_dashboard_permission_names") in loader.disk_migrations
    assert ("otp_totp", "0001_initial") in loader.disk_migrations
    assert loader.migrations_module("axes")[0] == "axes.migrations"


@pytest.mark.redis
def test_the_django_rq_link_on_the_index_opens_its_dashboard(admin_client, clean_redis):
    index = admin_client.get(reverse("admin:index")).content.decode()
    dashboard = reverse("admin:django_rq_dashboard_changelist")
    assert f'<a href="{dashboard}">Django-RQ</a>' in index
    page = admin_client.get(dashboard)
    assert page.status_code == 200
    assert b"Django-RQ" in page.content
    # The queue pages the portal links to (Driftsstatus) are still there beside it.
    assert admin_client.get(reverse("django_rq:home")).status_code == 200


def test_the_portals_own_app_config_still_runs_its_ready():
    """flisportal/apps.py holds the subclasses above beside the portal's own AppConfig: Django
    must still pick FlisportalConfig for "flisportal", whose ready() registers the system
    checks (with several candidates and no `default`, it silently used the bare AppConfig)."""
    assert type(apps.get_app_config("flisportal")) is FlisportalConfig
    assert any(check.__module__ == "flisportal.checks" for check in registry.get_checks())
