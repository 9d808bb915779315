"""No select box a person meets shows Django's default empty choice «---------»: each empty
first option says what to do («Vælg rute», «Vælg dataområde», …) or what leaving it means
(«Alle»). Every page with a form, outside Django's admin, is rendered as its user sees it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deliveries.models import UploadBatch, UploadBatchFile
from routes.models import Route, SftpUser, User
from tests import factories

pytestmark = pytest.mark.django_db

DJANGO_EMPTY = "---------"


@dataclass
class World:
    admin: User
    vendor: User
    consultant: User
    route: Route
    batch: UploadBatch
    batch_file: UploadBatchFile


@pytest.fixture
def world(
    admin_user: User,
    vendor_a_user: User,
    consultant_user: User,
    upload_route: Route,
    private_media: Path,
) -> World:
    factories.sftp_user(upload_route.sender_system, "vendor-a-sftp")
    # A batch upload by vendor A with one file still waiting for its route: the row's own form.
    batch = UploadBatch.objects.create(
        uploaded_by=vendor_a_user, expires_at=timezone.now() + timedelta(days=1)
    )
    batch_file = UploadBatchFile.objects.create(
        batch=batch, position=1, original_name="udtraek.csv", staged_name="0001.csv"
    )
    return World(admin_user, vendor_a_user, consultant_user, upload_route, batch, batch_file)


def _kommune_code(w: World) -> list[str]:
    return [w.route.kommune.code]


def _sftp_user(w: World) -> list[int]:
    return [
        SftpUser.objects.filter(it_system=w.route.sender_system).values_list("pk", flat=True)[0]
    ]


# Each page with a form, the persona who uses it, and how its URL is made.
PAGES: list[tuple[str, str, Callable[[World], list[object]]]] = [
    # A vendor's staff member: uploading, the batch upload and its rows, lists, the SFTP user
    # (its key forms), the account.
    ("vendor", "deliveries:upload", lambda w: []),
    ("vendor", "deliveries:batch_upload", lambda w: []),
    ("vendor", "deliveries:batch", lambda w: [w.batch.uuid]),
    ("vendor", "deliveries:batch_file", lambda w: [w.batch.uuid, w.batch_file.pk]),
    ("vendor", "deliveries:list", lambda w: []),
    ("vendor", "deliveries:outstanding", lambda w: []),
    ("vendor", "routes:vendor_overview", lambda w: []),
    ("vendor", "routes:sftp_user_detail", _sftp_user),
    ("vendor", "api:tokens", lambda w: []),
    ("vendor", "notifications:preferences", lambda w: []),
    ("vendor", "password_change", lambda w: []),
    ("vendor", "twofactor:manage", lambda w: []),
    # An administrator: route orders one by one and in bulk, status changes, the dashboards,
    # the inbox and the audit log.
    ("admin", "routes:route_orders", lambda w: []),
    ("admin", "routes:kommune_routes", _kommune_code),
    ("admin", "routes:route_bulk_order", lambda w: []),
    ("admin", "routes:route_bulk_transition", lambda w: []),
    ("admin", "routes:route_detail", lambda w: [w.route.pk]),
    (
        "admin",
        "front:onboarding",
        lambda w: [w.route.sender_system.vendor_id, w.route.kommune.code],
    ),
    ("admin", "front:coverage", lambda w: []),
    ("admin", "front:trends", lambda w: []),
    ("admin", "front:drift", lambda w: []),
    ("admin", "deliveries:list", lambda w: []),
    ("admin", "deliveries:outstanding", lambda w: []),
    ("admin", "deliveries:inbox", lambda w: []),
    ("admin", "audit:log", lambda w: []),
    # A kommune's consultant: the kommune's lists, the audit log, mail notifications.
    ("consultant", "deliveries:list", lambda w: []),
    ("consultant", "deliveries:outstanding", lambda w: []),
    ("consultant", "deliveries:inbox", lambda w: []),
    ("consultant", "front:kommune", _kommune_code),
    ("consultant", "audit:log", lambda w: []),
    ("consultant", "notifications:preferences", lambda w: []),
]


@pytest.mark.parametrize(("persona", "name", "args"), PAGES, ids=[f"{p}-{n}" for p, n, _ in PAGES])
def test_no_form_page_shows_djangos_empty_choice(
    client: Client, world: World, persona: str, name: str, args: Callable[[World], list[object]]
) -> None:
    """Rule: a select box's empty first option says what to do, never «---------»."""
    client.force_login(getattr(world, persona))
    response = client.get(reverse(name, args=args(world)))
    assert response.status_code == 200, (name, response.status_code)
    page = response.content.decode()
    assert "<form" in page, f"{name} has no form: take it off the list"
    assert DJANGO_EMPTY not in page, f"{name} shows «{DJANGO_EMPTY}»"


def test_a_route_orders_choices_say_what_to_choose(client: Client, world: World) -> None:
    """Rule: a new route order starts with «Vælg dataområde» and «Vælg afsendersystem» (the
    environment starts on exttest, and says «Vælg miljø» when there is none to start on)."""
    client.force_login(world.admin)
    # The order form sits on the kommune's routes page (its own URL takes only the POST).
    url = reverse("routes:kommune_routes", args=_kommune_code(world))
    page = client.get(url).content.decode()
    assert '<option value="" selected>Vælg dataområde</option>' in page
    assert '<option value="" selected>Vælg afsendersystem</option>' in page
    assert ">Vælg miljø</option>" in page


def test_a_batch_rows_route_choice_says_vaelg_rute(client: Client, world: World) -> None:
    """Rule: a batch row without a route reads «Vælg rute», like the upload page."""
    client.force_login(world.vendor)
    url = reverse("deliveries:batch_file", args=[world.batch.uuid, world.batch_file.pk])
    page = client.get(url).content.decode()
    assert '<option value="" selected>Vælg rute</option>' in page
