"""The vendor overview: a vendor's IT-systems, SFTP users with fingerprints and key expiry,
and the kommuner × data areas it may deliver for. Nobody sees another vendor's."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from routes import services
from routes.models import AgreementStatus, DataArea, Kommune, ProcessingAgreement, SftpUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor_a_setup(vendor_a, system_a, sftp_user_a, make_route, kommune_kbh, lokal):
    key = services.sftp_key_generate(
        sftp_user=sftp_user_a,
        algorithm="ed25519",
        expires_at=timezone.now() + timedelta(days=10),
        actor=None,
    )
    make_route(kommune=kommune_kbh, sender_system=system_a, status="established")
    make_route(kommune=kommune_kbh, sender_system=system_a, status="ordered", endpoint=lokal)
    ProcessingAgreement.objects.create(
        vendor=vendor_a, kommune=kommune_kbh, status=AgreementStatus.SIGNED
    )
    return key


def test_vendor_staff_see_their_systems_keys_and_where_they_may_deliver(
    client, vendor_a_user, vendor_a_setup, sftp_user_b, system_b
):
    services.sftp_key_generate(sftp_user=sftp_user_b, algorithm="ed25519", actor=None)
    client.force_login(vendor_a_user)
    page = client.get(reverse("routes:vendor_overview"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "System A" in html and "3f2c1d2e-1111-4222-8333-444455556666" in html
    assert "A_SFTP" in html
    assert vendor_a_setup.fingerprint in html
    assert "udløber snart" in html
    overview = page.context["o"]
    assert [p.kommune.code for p in overview.permissions] == ["101"]
    personale = [a.code for a in overview.areas].index("personale")
    assert [r.endpoint.slug for r in overview.permissions[0].routes_by_area[personale]] == [
        "exttest"
    ]
    assert [r.status for r in overview.pending_routes] == ["ordered"]
    assert "underskrevet" in html
    # Nothing of vendor B.
    assert "System B" not in html and "B_SFTP" not in html
    assert sftp_user_b.keys.get().fingerprint not in html


def test_another_vendors_overview_is_404(client, vendor_a_user, vendor_b):
    client.force_login(vendor_a_user)
    assert client.get(reverse("routes:vendor_overview_for", args=[vendor_b.pk])).status_code == 404


@pytest.mark.parametrize("persona", ["consultant_user"])
def test_consultants_get_404(client, request, persona, vendor_a):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("routes:vendor_overview")).status_code == 404
    assert client.get(reverse("routes:vendor_overview_for", args=[vendor_a.pk])).status_code == 404


def test_administrator_picks_a_vendor(client, admin_user, vendor_a, vendor_b, vendor_a_setup):
    client.force_login(admin_user)
    listing = client.get(reverse("routes:vendor_overview")).content.decode()
    assert "Leverandør A" in listing and "Leverandør B" in listing
    page = client.get(reverse("routes:vendor_overview_for", args=[vendor_a.pk]))
    assert page.status_code == 200
    assert vendor_a_setup.fingerprint in page.content.decode()


def test_overview_is_get_only(client, vendor_a_user):
    client.force_login(vendor_a_user)
    assert client.post(reverse("routes:vendor_overview")).status_code == 405


def test_overview_query_count_is_fixed(
    client,
    vendor_a_user,
    vendor_a,
    system_a,
    vendor_a_setup,
    make_route,
    produktion,
    django_assert_num_queries,
):
    client.force_login(vendor_a_user)
    # session, user, vendor, systems, SFTP users, keys, agreements, data areas, routes
    with django_assert_num_queries(9):
        client.get(reverse("routes:vendor_overview"))
    for kommune in Kommune.objects.all()[1:40]:
        for area in DataArea.objects.all():
            make_route(
                kommune=kommune,
                sender_system=system_a,
                status="established",
                data_area=area,
                endpoint=produktion,
            )
    user = SftpUser.objects.create(it_system=system_a, endpoint=produktion, username="A_PROD")
    services.sftp_key_generate(sftp_user=user, algorithm="ed25519", actor=None)
    with django_assert_num_queries(9):
        page = client.get(reverse("routes:vendor_overview"))
    assert len(page.context["o"].permissions) == 40


def test_each_kommune_the_vendor_works_with_links_to_its_page(
    client, vendor_a_user, upload_route, kommune_kbh
):
    # The way vendor staff reach a kommune's own page; every link opens (routes.access).
    client.force_login(vendor_a_user)
    html = client.get(reverse("routes:vendor_overview")).content.decode()
    link = reverse("front:kommune", args=[kommune_kbh.code])
    assert f'href="{link}"' in html
    assert client.get(link).status_code == 200


def test_a_kommune_without_an_agreement_says_it_is_missing(
    client, vendor_a_user, vendor_a, system_a, make_route, kommune_kbh, kommune_aarhus
):
    # Rule: an empty cell says nothing. A kommune the vendor has a route for but no agreement
    # with reads «mangler», as on the kommune page; one with an agreement shows its status.
    make_route(kommune=kommune_aarhus, sender_system=system_a, status="ordered")
    ProcessingAgreement.objects.create(
        vendor=vendor_a, kommune=kommune_kbh, status=AgreementStatus.SIGNED
    )
    client.force_login(vendor_a_user)
    page = client.get(reverse("routes:vendor_overview"))
    rows = {line.kommune.code: line.agreement for line in page.context["o"].kommuner}
    assert rows["101"].status == AgreementStatus.SIGNED and rows["751"] is None
    html = page.content.decode()
    table = html[html.index("Databehandleraftaler og ibrugtagning") :]
    aarhus = table[table.index(str(kommune_aarhus)) :]
    aarhus_row = aarhus[: aarhus.index("</tr>")]
    assert '<span class="badge text-bg-danger">! mangler</span>' in aarhus_row
    kbh = table[table.index(str(kommune_kbh)) :]
    assert "underskrevet" in kbh[: kbh.index("</tr>")]
