"""The vendor API's idempotency keys in the nightly retention run: a key is remembered
API_IDEMPOTENCY_KEEP_HOURS after it was first sent, by that age alone (a key whose first
request is still running included), then deleted; a dry run only counts; a request repeated
after its key is gone is a new upload (docs/users/api.md#idempotency)."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from deliveries.api.models import IdempotencyKey
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.services.retention import idempotency_keys_purge, retention_run
from flisportal.audit.models import AuditEntry
from flisportal.lib.periods import COPENHAGEN
from tests import factories
from tests.helpers.api import ApiWorld, make_api_world, token_for

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 10, 12, 0, tzinfo=COPENHAGEN)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


def _key(world: ApiWorld, name: str, *, at: datetime, delivery: Delivery | None = None) -> int:
    return IdempotencyKey.objects.create(
        user=world.vendor_user, key=name, fingerprint="f" * 64, delivery=delivery, created_at=at
    ).pk


def _keys() -> set[str]:
    return set(IdempotencyKey.objects.values_list("key", flat=True))


@pytest.fixture
def world(private_media: Path) -> ApiWorld:
    with time_machine.travel(START - 100 * HOUR, tick=False):
        return make_api_world()


def test_keys_older_than_the_keep_hours_go_and_younger_ones_stay(
    world: ApiWorld, settings: Any
) -> None:
    """Rule: a key is deleted once it is older than API_IDEMPOTENCY_KEEP_HOURS, by its age
    alone: a young claim without a delivery (its first request still running, the 409 case)
    stays, an old one goes like a used one; the deliveries the keys made stay."""
    settings.API_IDEMPOTENCY_KEEP_HOURS = 72
    delivery = factories.delivery(world.route, status=DeliveryStatus.SENT)
    _key(world, "used-old", at=START - 72 * HOUR - SECOND, delivery=delivery)
    _key(world, "claim-old", at=START - 80 * HOUR)
    _key(world, "used-at-the-limit", at=START - 72 * HOUR, delivery=delivery)
    _key(world, "claim-running", at=START - SECOND)

    with time_machine.travel(START, tick=False):
        result = retention_run()

    assert result.idempotency_keys == 2
    assert _keys() == {"used-at-the-limit", "claim-running"}
    assert Delivery.objects.filter(pk=delivery.pk).exists()
    entry = AuditEntry.objects.get(action="idempotencykey.deleted")
    assert entry.object_repr == "2 API-idempotensnøgler"
    assert entry.actor_label == "opbevaring"

    with time_machine.travel(START + 72 * HOUR - 2 * SECOND, tick=False):
        assert retention_run().idempotency_keys == 1  # the limit's key, now past it
    assert _keys() == {"claim-running"}


def test_the_keep_hours_are_the_setting(world: ApiWorld, settings: Any) -> None:
    """Rule: the age is FLISPORTAL_API_IDEMPOTENCY_KEEP_HOURS, not a fixed 72."""
    _key(world, "two-hours", at=START - 2 * HOUR - SECOND)
    settings.API_IDEMPOTENCY_KEEP_HOURS = 3
    with time_machine.travel(START, tick=False):
        assert idempotency_keys_purge(now=START) == 0
        settings.API_IDEMPOTENCY_KEEP_HOURS = 2
        assert idempotency_keys_purge(now=START) == 1
    assert _keys() == set()


def test_a_dry_run_counts_the_old_keys_and_deletes_none(world: ApiWorld, settings: Any) -> None:
    """Rule: `retention --dry-run` says how many keys would go, and deletes nothing (no audit
    row either)."""
    settings.API_IDEMPOTENCY_KEEP_HOURS = 72
    _key(world, "old-1", at=START - 73 * HOUR)
    _key(world, "old-2", at=START - 100 * HOUR)
    _key(world, "young", at=START - HOUR)
    out = StringIO()

    with time_machine.travel(START, tick=False):
        assert retention_run(dry_run=True).idempotency_keys == 2
        call_command("retention", "--dry-run", stdout=out)

    assert "2 API-idempotensnøgler" in out.getvalue()
    assert _keys() == {"old-1", "old-2", "young"}
    assert not AuditEntry.objects.filter(action="idempotencykey.deleted").exists()


def _upload(client: Client, world: ApiWorld, content: bytes, key: str) -> Any:
    data = {
        "route": world.route.pk,
        "period": "2026-10",
        "file": SimpleUploadedFile("udtraek.csv", content, "text/csv"),
    }
    return client.post(reverse("api:deliveries"), data, HTTP_IDEMPOTENCY_KEY=key)


def test_a_request_repeated_after_its_key_was_purged_is_a_new_upload(
    world: ApiWorld, settings: Any
) -> None:
    """Rule (docs/users/api.md): within the keep hours a repeat is answered with the first
    delivery; after the key is deleted the same request is a new upload, which the same-file
    rule refuses (nothing is delivered twice), and the key may carry another file."""
    settings.API_IDEMPOTENCY_KEEP_HOURS = 72
    first_file = factories.dagtilbud_csv(factories.dagtilbud_row(0)).encode()
    with time_machine.travel(START, tick=False) as clock:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(world.vendor_user)}")
        first = _upload(client, world, first_file, "kbh-dagtilbud-2026-10")
        assert first.status_code == 201, first.content
        clock.shift(72 * HOUR)
        replayed = _upload(client, world, first_file, "kbh-dagtilbud-2026-10")
        assert replayed.status_code == 200, replayed.content
        assert replayed.json()["uuid"] == first.json()["uuid"]

        clock.shift(SECOND)
        assert retention_run().idempotency_keys == 1
        repeated = _upload(client, world, first_file, "kbh-dagtilbud-2026-10")
        another = factories.dagtilbud_csv(factories.dagtilbud_row(1)).encode()
        new = _upload(client, world, another, "kbh-dagtilbud-2026-10")

    assert repeated.status_code == 422, repeated.content
    assert repeated.json()["rule"] == "same_file"
    assert "Idempotent-Replayed" not in repeated
    assert new.status_code == 201, new.content
    assert Delivery.objects.filter(route=world.route).count() == 2


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
def test_the_purge_seeks_the_index_of_the_creation_time(settings: Any) -> None:
    """Rule: the nightly delete finds old keys through `api_idempotency_created`, not by
    reading every key ever sent."""
    cutoff = START - settings.API_IDEMPOTENCY_KEEP_HOURS * HOUR
    sql, params = IdempotencyKey.objects.filter(created_at__lt=cutoff).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "api_idempotency_created" in plan, plan
