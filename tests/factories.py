"""Rows for tests, written straight to the database: the registry's parties, routes and
deliveries, and synthetic extracts.

Everything here is made directly, with no history and no side effects. A test that needs a row
made *through* the portal's services uses the service instead: `ordered_route` (a route with its
order history) and `make_delivery` (an upload through `delivery_create`, with its first event) in
tests/fixtures/.

The names, CVR numbers and UUIDs are made up and the same in every test (vendor A is always
«Leverandør A», CVR 29130000, with «System A»), so a failing assertion reads the same wherever it
fails. The kommuner, data areas and endpoints come from the migrations: they are looked up,
never made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, ExpectedDelivery, ExpectedState, FileCheck, FileCheckStatus
from deliveries.services.expected import expected_deadlines
from routes.models import (
    AgreementStatus,
    DataArea,
    Endpoint,
    ITSystem,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    SftpUser,
    User,
    Vendor,
)

# --- reference data from the migrations ---------------------------------------------------------

KBH = "101"  # Københavns Kommune
AARHUS = "751"


def kommune(code: str = KBH) -> Kommune:
    return Kommune.objects.get(code=code)


def endpoint(slug: str = "lokal") -> Endpoint:
    """`lokal` is the Serviceplatform stand-in's endpoint; `exttest` and `produktion` are
    KOMBIT's, which no test reaches."""
    return Endpoint.objects.get(slug=slug)


def data_area(code: str = "personale") -> DataArea:
    return DataArea.objects.get(code=code)


# --- parties --------------------------------------------------------------------------------------

# name, CVR, and the UUID of the vendor's fagsystem
VENDORS = {
    "A": ("Leverandør A", "29130000", "3f2c1d2e-1111-4222-8333-444455556666"),
    "B": ("Leverandør B", "37450006", "7a9b0c1d-2222-4333-9444-555566667777"),
}
FLIS_UUID = "0c5e3f6a-3333-4444-a555-666677778888"
LIS_KBH_UUID = "1d6f4a7b-4444-4555-b666-777788889999"


def vendor(letter: str = "A") -> Vendor:
    name, cvr, _ = VENDORS[letter]
    return Vendor.objects.create(name=name, cvr=cvr)


_new_vendor = vendor  # `sender_system` takes a `vendor` argument that hides the function


def sender_system(letter: str = "A", *, vendor: Vendor | None = None) -> ITSystem:
    """Vendor `letter`'s fagsystem, «System A» or «System B»; the vendor is made unless given."""
    _, _, system_uuid = VENDORS[letter]
    return ITSystem.objects.create(
        name=f"System {letter}",
        uuid=system_uuid,
        vendor=vendor or _new_vendor(letter),
        is_sender=True,
    )


def flis_system() -> ITSystem:
    """FLIS, the recipient every Dagtilbud route delivers to."""
    return ITSystem.objects.create(name="FLIS", uuid=FLIS_UUID, is_recipient=True)


def lis_system(kommune: Kommune) -> ITSystem:
    """København's own LIS: a recipient system that belongs to a kommune, not a vendor."""
    return ITSystem.objects.create(
        name="Københavns LIS", uuid=LIS_KBH_UUID, kommune=kommune, is_recipient=True
    )


def sftp_user(system: ITSystem, username: str, *, endpoint: Endpoint | str = "lokal") -> SftpUser:
    return SftpUser.objects.create(
        it_system=system, endpoint=_endpoint(endpoint), username=username
    )


def agreement(
    vendor: Vendor, kommune: Kommune, *, status: str = AgreementStatus.SIGNED
) -> ProcessingAgreement:
    """The databehandleraftale a vendor needs before it may upload for a kommune (there is one
    per pair: a world that already has it gets it with this status)."""
    found, _ = ProcessingAgreement.objects.update_or_create(
        vendor=vendor, kommune=kommune, defaults={"status": status}
    )
    return found


# --- users, one per persona (what each may do: tests/fixtures/personas.py) ---------------------


def admin(username: str = "admin", *, password: str | None = None) -> User:
    return User.objects.create_user(username, password=password, is_staff=True, is_superuser=True)


def vendor_staff(
    vendor: Vendor, username: str, *, password: str | None = None, **fields: Any
) -> User:
    return User.objects.create_user(username, password=password, vendor=vendor, **fields)


def consultant(
    *kommuner: Kommune, username: str = "konsulent", password: str | None = None, **fields: Any
) -> User:
    user = User.objects.create_user(username, password=password, **fields)
    user.kommuner.add(*kommuner)
    return user


def portal_password(user: User, raw: str) -> User:
    """Gives `user` the password `raw` hashed as the portal hashes it: for a user who logs in
    through a browser to a portal running in its own process (`runserver`), whose settings do
    not have the tests' fast hasher (tests/fixtures/isolation.py)."""
    user.password = make_password(raw, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    return user


# --- routes ---------------------------------------------------------------------------------------


def route(
    *,
    sender_system: ITSystem,
    kommune: Kommune | str = KBH,
    data_area: DataArea | str = "personale",
    endpoint: Endpoint | str = "lokal",
    status: str = RouteStatus.ESTABLISHED,
    recipients: Iterable[ITSystem] = (),
    **fields: Any,
) -> Route:
    """A route in `status` (established unless told), made directly: no history rows, no
    services. The kommune is both sender and recipient authority, as for every route a kommune
    orders for itself. Kommune, data area and endpoint may be given by code or slug; `fields`
    are any other Route columns (established_on, due_day_override, …)."""
    made = _route_row(
        sender_system=sender_system,
        kommune=_kommune(kommune),
        data_area=_data_area(data_area),
        endpoint=_endpoint(endpoint),
        status=status,
        **fields,
    )
    made.save()
    made.recipient_systems.set(recipients)
    return made


def routes_everywhere(
    sender_system: ITSystem, *, endpoint: Endpoint | str = "lokal", **fields: Any
) -> list[Route]:
    """`route()` for every kommune and data area (490 routes) in one insert, without
    recipients: the shape of a large vendor's year, for query-count tests."""
    place = _endpoint(endpoint)
    status = fields.pop("status", RouteStatus.ESTABLISHED)
    return Route.objects.bulk_create(
        _route_row(
            sender_system=sender_system,
            kommune=each_kommune,
            data_area=area,
            endpoint=place,
            status=status,
            **fields,
        )
        for each_kommune in Kommune.objects.all()
        for area in DataArea.objects.all()
    )


def _route_row(*, kommune: Kommune, **fields: Any) -> Route:
    return Route(
        kommune=kommune,
        sender_authority=kommune.cvr,
        recipient_authority=kommune.cvr,
        **fields,
    )


# --- deliveries -----------------------------------------------------------------------------------

EXTRACT = b"kommunekode;periode\n101;202610\n"


def delivery(
    route: Route,
    *,
    status: str = DeliveryStatus.RECEIVED,
    content: bytes = EXTRACT,
    period: str = "2026-10",
    file: str = "deliveries/x.csv",
    **fields: Any,
) -> Delivery:
    """A delivery row on `route`, straight into `status`: no event, no validation, no job.
    Its size and checksum are those of `content`; the file is only named, not stored (a test
    that reads the file stores it first, or uses `make_delivery`). `fields` are any other
    Delivery columns (uploaded_by, original_filename, sent_at, …)."""
    values: dict[str, Any] = {
        "original_filename": "udtraek.csv",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        **fields,
    }
    return Delivery.objects.create(
        route=route,
        it_system=route.sender_system,
        data_area=route.data_area,
        kommune=route.kommune,
        endpoint=route.endpoint,
        period=period,
        status=status,
        file=file,
        **values,
    )


def expected(
    route: Route, period: str, *, met_at: datetime | None = None, **fields: Any
) -> ExpectedDelivery:
    """The expected period `period` of `route`, with the route's real deadlines; met at
    `met_at` when given (state `met`), else `overdue` (the scanner's word matters little to
    reads that compare the deadlines themselves). `fields` are any other columns."""
    due_at, overdue_at = expected_deadlines(route=route, period=period)
    values: dict[str, Any] = {
        "state": ExpectedState.MET if met_at else ExpectedState.OVERDUE,
        "met_at": met_at,
        **fields,
    }
    return ExpectedDelivery.objects.create(
        route=route, period=period, due_at=due_at, overdue_at=overdue_at, **values
    )


def file_check(
    route: Route, user: User, *, content: bytes = EXTRACT, period: str = "2026-10", **fields: Any
) -> FileCheck:
    """A check without sending on `route` by `user`, already checked and valid (no file, no
    job), expiring 72 hours from now. `fields` are any other FileCheck columns."""
    values: dict[str, Any] = {
        "original_filename": "udtraek.csv",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "status": FileCheckStatus.VALID,
        "report": {"rows_checked": 1, "error_count": 0, "issues": []},
        "checked_at": timezone.now(),
        "expires_at": timezone.now() + timedelta(hours=72),
        **fields,
    }
    return FileCheck.objects.create(route=route, user=user, period=period, **values)


# --- synthetic extracts (made-up CPR numbers only) ------------------------------------------------

DAGTILBUD_HEADER = (
    "kommunekode;periode;cpr_barn;daginstitutionsnummer;anvisningsenhedsnummer;pasningstilbud;"
    "ejerform;startdato;slutdato;timer_pr_uge;pladstype;friplads"
)


def dagtilbud_row(n: int = 0, **overrides: str) -> str:
    """One valid Dagtilbud row for København in 2026-10; `n` (0–3999) keeps the key unique.
    The CPR-like number is synthetic and cannot belong to anyone: 7th digit 5 with year 45
    means born 01-01-2045, in the future (CPR's century table)."""
    values = {
        "kommunekode": "101",
        "periode": "202610",
        "cpr_barn": f"010145{5000 + n:04d}",
        "daginstitutionsnummer": "G10001",
        "anvisningsenhedsnummer": "E10001",
        "pasningstilbud": "vuggestue",
        "ejerform": "kommunal",
        "startdato": "2025-08-01",
        "slutdato": "",
        "timer_pr_uge": "51,5",
        "pladstype": "fuldtid",
        "friplads": "ingen",
    }
    values.update(overrides)
    return ";".join(values[name] for name in DAGTILBUD_HEADER.split(";"))


def dagtilbud_csv(*rows: str, rows_ok: int = 0) -> str:
    """A Dagtilbud extract: the header, `rows_ok` valid rows, then `rows` as given."""
    body = [dagtilbud_row(i) for i in range(rows_ok)] + list(rows)
    return DAGTILBUD_HEADER + "\n" + "".join(line + "\n" for line in body)


SKOLE_HEADER = (
    "kommunekode;periode;skoleaar;institutionsnummer;cpr;klassetrin;klassebetegnelse;klassetype;"
    "skoledage;fravaer_sygdom_dage;fravaer_med_tilladelse_dage;fravaer_ulovligt_dage;"
    "indskrivningsdato;udskrivningsdato"
)


def skole_row(n: int = 0, **overrides: str) -> str:
    """One valid Skole row for København in 2026-10; `n` (0–3999) keeps the key unique. The
    CPR-like number is synthetic, as in `dagtilbud_row`."""
    values = {
        "kommunekode": "101",
        "periode": "202610",
        "skoleaar": "2026/27",
        "institutionsnummer": "101001",
        "cpr": f"010145{5000 + n:04d}",
        "klassetrin": "3",
        "klassebetegnelse": "3.A",
        "klassetype": "10",
        "skoledage": "21",
        "fravaer_sygdom_dage": "1",
        "fravaer_med_tilladelse_dage": "0",
        "fravaer_ulovligt_dage": "0",
        "indskrivningsdato": "2023-08-10",
        "udskrivningsdato": "",
    }
    values.update(overrides)
    return ";".join(values[name] for name in SKOLE_HEADER.split(";"))


def extract_csv(area: str, *, kommune: str = KBH, period: str = "202610", rows: int = 3) -> str:
    """A valid Dagtilbud or Skole extract of `rows` rows for `kommune` and `period` (ÅÅÅÅMM)."""
    header, row = (
        (DAGTILBUD_HEADER, dagtilbud_row) if area == "dagtilbud" else (SKOLE_HEADER, skole_row)
    )
    body = [row(i, kommunekode=kommune, periode=period) for i in range(rows)]
    return header + "\n" + "".join(line + "\n" for line in body)


# --- lookups by code ------------------------------------------------------------------------------


def _kommune(value: Kommune | str) -> Kommune:
    return value if isinstance(value, Kommune) else kommune(value)


def _data_area(value: DataArea | str) -> DataArea:
    return value if isinstance(value, DataArea) else data_area(value)


def _endpoint(value: Endpoint | str) -> Endpoint:
    return value if isinstance(value, Endpoint) else endpoint(value)


def contract_the_screen_declines(version: str) -> dict[str, Any]:
    """A shipped contract document as version `version`, with a `\\w` pattern (which Python's
    and polars' engines read differently) on a free-text column: the row screen leaves it
    to the exact checks (deliveries/screen.py, `plain_pattern`)."""
    from deliveries.datacontracts import read_contract, shipped_contract_paths

    document = read_contract(shipped_contract_paths()[0])
    document["version"] = version
    portal = document["portal"]
    field = next(
        f
        for f in document["schema"]["fields"]
        if f.get("type", "string") == "string"
        and "enum" not in f.get("constraints", {})
        and f["name"] not in (portal.get("kommune_field"), portal.get("period_field"))
    )
    field.setdefault("constraints", {})["pattern"] = r"\w+"
    return document
