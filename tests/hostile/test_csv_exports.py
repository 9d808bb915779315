"""Formula injection: no CSV the portal writes has a cell a spreadsheet would run as a formula.

The exports are found from the URL configuration (every portal URL that answers text/csv), so
a new export is tested here as soon as it exists. Two CSVs are left out on purpose: the download
of a delivery's own file gives the vendor back the bytes they uploaded, unchanged (changing
them would break the checksum the platform and the recipients see); and a contract's template
holds the contract's own names and example values, which must stay exactly as written.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedDelivery, ExpectedState, FileCheckStatus
from deliveries.services.check import delivery_check, file_check_run
from flisportal.audit.services import audit_record
from flisportal.lib.periods import period_of, period_shift
from routes.models import Endpoint, ITSystem, SftpUser
from tests.factories import DAGTILBUD_HEADER, dagtilbud_csv, dagtilbud_row
from tests.helpers.portal_urls import URLS, Tenant, fill_kwargs, make_receipt

pytestmark = pytest.mark.django_db

NOT_AN_EXPORT = {
    "deliveries:download": "the vendor's own uploaded file, byte for byte",
    # Its cells are the contract's column names and examples (a document an administrator
    # loaded, no user's data), written exactly as the validator must accept them: a "'" in
    # front would make the template fail its own contract (test_contract_pages.py).
    "deliveries:contract_template": "a contract's template file, which must pass the contract",
}
FORMULAS = ("=", "+", "-", "@", "\t", "\r")
EVIL = ['=HYPERLINK("http://x","klik")', "+SUM(1,2)", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]


@pytest.fixture
def hostile_world(make_delivery, incoming, upload_route, vendor_a_user, vendor_a, admin_user):
    # Names an administrator typed (or a vendor's data) that start like formulas.
    vendor_a.name = EVIL[0]
    vendor_a.save()
    system = upload_route.sender_system
    system.name = EVIL[1]
    system.save()
    rows = [
        dagtilbud_row(1, pasningstilbud=EVIL[2]),
        dagtilbud_row(2, daginstitutionsnummer=EVIL[3]),
        dagtilbud_row(3, pladstype=EVIL[4]),
    ]
    # A hostile column name too: the report names the column of each error.
    header = DAGTILBUD_HEADER.replace("friplads", "=friplads")
    body = dagtilbud_csv(*rows).replace(DAGTILBUD_HEADER, header)
    delivery = make_delivery(upload_route, vendor_a_user, body)
    assert validate_delivery(delivery.pk) == DeliveryStatus.REJECTED
    delivery2 = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(*rows), period="2026-09")
    assert validate_delivery(delivery2.pk) == DeliveryStatus.REJECTED
    # A period the route still owes: the list of outstanding periods names vendor and system.
    ExpectedDelivery.objects.create(
        route=upload_route,
        period=period_shift(period_of(timezone.now()), -1),
        due_at=timezone.now(),
        overdue_at=timezone.now(),
        state=ExpectedState.OVERDUE,
    )
    # A registry change recorded in the audit log with a name an administrator typed.
    audit_record(action="routes.vendor.change", obj=vendor_a, actor=admin_user)
    sftp_user = SftpUser.objects.create(
        it_system=system, endpoint=Endpoint.objects.get(slug="lokal"), username="A_SFTP"
    )
    tenant = Tenant(vendor_a, upload_route.kommune, system, sftp_user, upload_route, delivery)
    tenant2 = Tenant(vendor_a, upload_route.kommune, system, sftp_user, upload_route, delivery2)
    # A fetched file whose name (chosen by the sender) starts like a formula.
    flis_sftp = SftpUser.objects.create(
        it_system=ITSystem.objects.filter(is_recipient=True).first()
        or ITSystem.objects.create(
            name="FLIS", uuid="0c5e3f6a-3333-4444-a555-666677778888", is_recipient=True
        ),
        endpoint=Endpoint.objects.get(slug="lokal"),
        username="FLIS_SFTP",
    )
    make_receipt(tenant, flis_sftp, file_name=EVIL[0])
    make_receipt(tenant2, flis_sftp, file_name=EVIL[4])
    # The hostile extract checked without sending, by the administrator who reads the exports
    # (a check is only its maker's).
    check = delivery_check(
        user=admin_user, incoming=incoming(body.encode()), route=upload_route, period="2026-10"
    )
    assert file_check_run(check_id=check.pk) == FileCheckStatus.INVALID
    tenant.file_check = tenant2.file_check = check
    return [tenant, tenant2]


def _kwargs(url, tenants) -> list[dict]:
    # Each delivery once: one has the hostile column name, the other hostile values.
    return [fill_kwargs(url, tenant) for tenant in tenants]


def _cells(response) -> list[str]:
    raw = (b"".join(response.streaming_content) if response.streaming else response.content).decode(
        "utf-8-sig"
    )
    return [cell for row in csv.reader(io.StringIO(raw), delimiter=";") for cell in row]


def test_no_csv_export_has_a_cell_that_starts_a_formula(client, admin_user, hostile_world):
    client.force_login(admin_user)
    exports = []
    for url in URLS:
        # SFTP users and batch uploads are not in this world (and export no CSV).
        if url.name in NOT_AN_EXPORT or url.name.startswith(("routes:sftp", "deliveries:batch")):
            continue
        for kwargs in _kwargs(url, hostile_world):
            response = client.get(reverse(url.name, kwargs=kwargs))
            if not response.get("Content-Type", "").startswith("text/csv"):
                break
            exports.append(url.name)
            cells = _cells(response)
            assert cells, url.name
            bad = [c for c in cells if c.startswith(FORMULAS)]
            assert not bad, (url.name, bad)
            # The evil values are there, made harmless, not dropped.
            assert any(c.startswith("'") for c in cells), url.name
    assert {
        "front:coverage_csv",
        "deliveries:report_csv",
        "deliveries:check_report_csv",
        "deliveries:inbox_csv",
        "deliveries:outstanding_csv",
        "audit:log_csv",
        "front:trends_csv",
    } <= set(exports)
