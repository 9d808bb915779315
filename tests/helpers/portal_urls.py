"""Every named portal URL, walked out of the URL configuration, and a tenant's objects to fill
its arguments with: the ground that the access matrix (tests/flisportal/test_access_matrix.py)
and the CSV-injection test (tests/hostile/test_csv_exports.py) stand on.

A new page shows up in `URLS` by itself. If it takes an argument that `fill_kwargs` cannot
fill, both tests fail until it is added to KWARGS_BY_NAME or PK_BY_URL below.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import (
    DataContract,
    Delivery,
    DeliveryEvent,
    FileCheck,
    Receipt,
    ReceiptVerdict,
    UploadBatch,
    UploadBatchFile,
)
from routes.models import ITSystem, Kommune, Route, SftpUser, User, Vendor
from tests import factories

# Whole URL trees that are not portal pages, each with the reason it is left out.
SKIPPED_PREFIXES = {
    "admin/": "Django's admin has its own staff-only permission system (tested in test_admin).",
    "admin/rq/": "django-rq's dashboard sits under admin/ and is staff-only by django-rq itself.",
    "i18n/": "the language switch is a public POST that only sets a cookie.",
    "konto/": "Django's login, logout and password pages: public by design (test_login); the "
    "API-nøgler page shows only the person's own tokens (tests/api/test_tokens.py).",
    "api/v1/": "the vendor API answers tokens, not sessions (401, not a login redirect); its own "
    "matrix over the same tenants is tests/api/test_access.py.",
    "sso/": "single sign-on's start, callback and logout: the login itself, public by design "
    "(tests/sso).",
    "healthz": "the load balancer's health check: public by design, says only ok/fejl for the "
    "database and Redis, no data (test_healthz).",
}


@dataclass
class Tenant:
    vendor: Vendor
    kommune: Kommune
    system: ITSystem
    sftp_user: SftpUser
    route: Route
    delivery: Delivery
    receipt: Receipt | None = None
    batch: UploadBatch | None = None
    batch_file: UploadBatchFile | None = None
    file_check: FileCheck | None = None  # made by the vendor's staff member (the world's)


def make_receipt(tenant: Tenant, recipient: SftpUser, *, file_name: str = "") -> Receipt:
    """What the Hent-side fetcher records when FLIS fetched the tenant's delivery."""
    content = b"kommunekode;periode\n"
    receipt = Receipt(
        filetransfer_uuid=str(uuid.uuid4()),
        recipient_sftp_user=recipient,
        recipient_system=recipient.it_system,
        file_name=file_name or f"{tenant.sftp_user.username}_{tenant.delivery.uuid}.csv",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        sender=tenant.sftp_user.username,
        senders_file_id=str(tenant.delivery.uuid),
        sender_system=tenant.system,
        data_area=tenant.route.data_area,
        kommune=tenant.kommune,
        period=tenant.delivery.period,
        route=tenant.route,
        delivery=tenant.delivery,
        verdict=ReceiptVerdict.OK,
    )
    receipt.file.name = default_storage.save(f"receipts/{receipt.uuid}.csv", ContentFile(content))
    receipt.save()
    tenant.receipt = receipt
    return receipt


def make_batch(tenant: Tenant, uploader: User) -> None:
    """A batch upload by the tenant's vendor's staff member, not yet confirmed, with one file
    waiting for a route (so confirming it sends nothing and reads no file)."""
    tenant.batch = UploadBatch.objects.create(
        uploaded_by=uploader, expires_at=timezone.now() + timedelta(days=1)
    )
    tenant.batch_file = UploadBatchFile.objects.create(
        batch=tenant.batch, position=1, original_name="udtraek.csv", staged_name="0001.csv"
    )


def make_tenant(letter: str, kommune_code: str, username: str) -> Tenant:
    """Vendor `letter` with its system and SFTP user on the local endpoint, an established
    Dagtilbud route for the kommune, and a failed delivery on it whose file is stored (so
    downloads answer) and whose first event is written."""
    vendor = factories.vendor(letter)
    system = factories.sender_system(letter, vendor=vendor)
    sftp_user = factories.sftp_user(system, username)
    route = factories.route(sender_system=system, kommune=kommune_code, data_area="dagtilbud")
    content = b"kommunekode;periode\n" + kommune_code.encode() + b";202610\n"
    key = uuid.uuid4()
    stored = default_storage.save(f"deliveries/{letter}/{key}.csv", ContentFile(content))
    delivery = factories.delivery(
        route,
        uuid=key,
        status=DeliveryStatus.FAILED,
        content=content,
        file=stored,
        original_filename=f"udtraek-{letter}.csv",
    )
    DeliveryEvent.objects.create(
        delivery=delivery, old_status="", new_status=DeliveryStatus.RECEIVED, message="Uploadet."
    )
    return Tenant(vendor, route.kommune, system, sftp_user, route, delivery)


# How each URL argument is filled from a tenant. `pk` means a different model on
# different pages, so it is keyed by URL name; other names mean the same everywhere.
KWARGS_BY_NAME: dict[str, Callable[[Tenant], Any]] = {
    "code": lambda t: t.kommune.code,
    "delivery_uuid": lambda t: t.delivery.uuid,
    "vendor_pk": lambda t: t.vendor.pk,
    "receipt_uuid": lambda t: t.receipt.uuid if t.receipt else None,
    "batch_uuid": lambda t: t.batch.uuid if t.batch else None,
    "check_uuid": lambda t: t.file_check.uuid if t.file_check else None,
    # Contracts belong to no tenant: each tenant's route's area and its active version.
    "area_code": lambda t: t.route.data_area.code,
    "version": lambda t: (
        DataContract.objects.get(data_area=t.route.data_area, is_active=True).version
    ),
    # Udvikling's charts belong to no tenant: the on-time rate per vendor stands for all four
    # (it names the vendors, so the CSV-injection test sees a name an administrator typed).
    "chart": lambda t: "leverandoerer",
}
PK_BY_URL: dict[str, Callable[[Tenant], Any]] = {
    "routes:route_detail": lambda t: t.route.pk,
    "routes:route_transition": lambda t: t.route.pk,
    "routes:vendor_overview_for": lambda t: t.vendor.pk,
    "routes:sftp_user_detail": lambda t: t.sftp_user.pk,
    "routes:sftp_key_generate": lambda t: t.sftp_user.pk,
    "routes:sftp_key_rotate": lambda t: t.sftp_user.pk,
    "routes:sftp_key_upload": lambda t: t.sftp_user.pk,
    "routes:sftp_key_confirm_rotation": lambda t: t.sftp_user.pk,
    "deliveries:batch_file": lambda t: t.batch_file.pk if t.batch_file else None,
    "deliveries:batch_file_drop": lambda t: t.batch_file.pk if t.batch_file else None,
    "routes:sftp_key_discard_rotation": lambda t: t.sftp_user.pk,
}


# Whose objects each URL argument names: the vendor that owns it, the kommune it is for, or
# both. The access matrix judges every combination of tenants' objects by these
# (tests/flisportal/test_access_matrix.py); like the fillers above, `pk` is keyed by URL name.
VENDOR = "vendor"
KOMMUNE = "kommune"
OWNERS_BY_NAME: dict[str, tuple[str, ...]] = {
    "code": (KOMMUNE,),
    "delivery_uuid": (VENDOR, KOMMUNE),
    "vendor_pk": (VENDOR,),
    "receipt_uuid": (VENDOR, KOMMUNE),
    # A batch is its uploader's, a staff member of the vendor.
    "batch_uuid": (VENDOR,),
    # A check is its maker's (a vendor's staff member); the kommune has no say in it.
    "check_uuid": (VENDOR,),
    "area_code": (),
    "version": (),
    "chart": (),
}
OWNERS_BY_PK_URL: dict[str, tuple[str, ...]] = {
    "routes:route_detail": (VENDOR, KOMMUNE),
    "routes:route_transition": (VENDOR, KOMMUNE),
    "routes:vendor_overview_for": (VENDOR,),
    "routes:sftp_user_detail": (VENDOR,),
    "routes:sftp_key_generate": (VENDOR,),
    "routes:sftp_key_rotate": (VENDOR,),
    "routes:sftp_key_upload": (VENDOR,),
    "routes:sftp_key_confirm_rotation": (VENDOR,),
    "deliveries:batch_file": (VENDOR,),
    "deliveries:batch_file_drop": (VENDOR,),
    "routes:sftp_key_discard_rotation": (VENDOR,),
}


@dataclass(frozen=True)
class PortalUrl:
    name: str  # namespaced, e.g. "deliveries:detail"
    route: str  # the pattern, e.g. "leverancer/<uuid:delivery_uuid>/"
    kwargs: tuple[str, ...]


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}{entry.namespace}:"
            yield from _walk(entry.url_patterns, route, inner)
        else:
            yield route, namespace, entry


def portal_urls() -> list[PortalUrl]:
    """Every portal URL from the URL configuration; an unnamed one is an error, because pages
    are reached through `reverse()` and this test needs the name to declare a policy."""
    found = []
    for route, namespace, pattern in _walk(get_resolver().url_patterns):
        if any(route.startswith(prefix) for prefix in SKIPPED_PREFIXES):
            continue
        assert pattern.name, f"URL {route!r} has no name: give it one and add it to POLICY."
        found.append(
            PortalUrl(
                name=namespace + pattern.name,
                route=route,
                kwargs=tuple(pattern.pattern.converters),
            )
        )
    return found


URLS = portal_urls()


def fill_kwargs(url: PortalUrl, tenant: Tenant) -> dict[str, Any]:
    kwargs = {}
    for name in url.kwargs:
        if name == "pk" and url.name in PK_BY_URL:
            kwargs[name] = PK_BY_URL[url.name](tenant)
        elif name in KWARGS_BY_NAME:
            kwargs[name] = KWARGS_BY_NAME[name](tenant)
        else:
            pytest.fail(
                f"Cannot fill URL argument {name!r} of {url.name!r} ({url.route}): add it to "
                "KWARGS_BY_NAME or PK_BY_URL in tests/helpers/portal_urls.py, with "
                "an object of each tenant in the fixture world, and declare who may see the "
                "page in POLICY."
            )
    return kwargs


@dataclass(frozen=True)
class Combination:
    """One way to fill a URL from the world's tenants: each argument from one tenant, and which
    tenant's vendor and kommune the URL then names (None where no argument names one)."""

    kwargs: dict[str, Any]
    vendor: str | None
    kommune: str | None

    def __str__(self) -> str:
        return f"vendor {self.vendor or '-'} × kommune {self.kommune or '-'}"


def _owners(url: PortalUrl, name: str) -> tuple[str, ...]:
    owners = OWNERS_BY_PK_URL.get(url.name) if name == "pk" else OWNERS_BY_NAME.get(name)
    if owners is None:
        pytest.fail(
            f"Whose object does argument {name!r} of {url.name!r} name? Add it to "
            "OWNERS_BY_NAME or OWNERS_BY_PK_URL in tests/helpers/portal_urls.py."
        )
    return owners


def tenant_combinations(url: PortalUrl, tenants: dict[str, Tenant]) -> list[Combination]:
    """Every way to fill the URL's arguments from the tenants, each argument from any tenant:
    for a vendor id and a kommune code, every vendor × every kommune."""
    combinations = []
    for letters in itertools.product(tenants, repeat=len(url.kwargs)):
        kwargs: dict[str, Any] = {}
        named: dict[str, set[str]] = {VENDOR: set(), KOMMUNE: set()}
        for name, letter in zip(url.kwargs, letters, strict=True):
            single = PortalUrl(url.name, url.route, (name,))
            kwargs |= fill_kwargs(single, tenants[letter])
            for owner in _owners(url, name):
                named[owner].add(letter)
        if len(named[VENDOR]) > 1 or len(named[KOMMUNE]) > 1:
            continue  # two arguments naming different vendors: no page takes such a pair yet
        combinations.append(
            Combination(
                kwargs,
                vendor=next(iter(named[VENDOR]), None),
                kommune=next(iter(named[KOMMUNE]), None),
            )
        )
    return combinations
