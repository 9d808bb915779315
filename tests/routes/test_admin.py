"""The Django admin as the back office: every registry model has a list with search and
filters; key material is read-only and the encrypted private key is never displayed."""

import pytest
from django.urls import reverse

from routes import services
from routes.models import Endpoint, Route, RouteEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("kommune", {"q": "Køben", "region": "Region Hovedstaden"}),
        ("dataarea", {"q": "Skole"}),
        ("vendor", {"q": "Leverandør"}),
        ("itsystem", {"q": "System", "is_sender__exact": "1"}),
        ("endpoint", {"q": "serviceplatformen", "is_standin__exact": "0"}),
        ("sftpuser", {"q": "A_SFTP"}),
        ("sftpkey", {"q": "SHA256", "state__exact": "active"}),
        ("processingagreement", {"q": "Køben", "status__exact": "signed"}),
        ("route", {"q": "101", "status__exact": "ordered"}),
        ("routeevent", {"q": "København"}),
        ("user", {"q": "admin"}),
    ],
)
def test_every_changelist_searches_and_filters(
    admin_client, ordered_route, sftp_user_a, model, query
):
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    url = reverse(f"admin:routes_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    response = admin_client.get(url, query)
    assert response.status_code == 200, response.content[:500]


def test_route_change_page_shows_its_history_and_keeps_the_status_read_only(
    admin_client, ordered_route
):
    page = admin_client.get(reverse("admin:routes_route_change", args=[ordered_route.pk]))
    html = page.content.decode()
    assert "Bestilt for København." in html  # the RouteEvent inline
    assert 'name="status"' not in html


def test_route_added_in_admin_gets_its_first_history_row(
    admin_client, admin_user, kommune_kbh, system_a, flis_system, exttest, personale
):
    response = admin_client.post(
        reverse("admin:routes_route_add"),
        {
            "endpoint": exttest.pk,
            "data_area": personale.pk,
            "kommune": kommune_kbh.pk,
            "sender_system": system_a.pk,
            "sender_authority": kommune_kbh.cvr,
            "recipient_authority": kommune_kbh.cvr,
            "recipient_systems": [flis_system.pk],
            "order_reference": "",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    route = Route.objects.get()
    event = RouteEvent.objects.get(route=route)
    assert (event.new_status, event.actor) == ("requested", admin_user)


def test_keys_are_listed_on_the_sftp_user_without_the_encrypted_bytes(admin_client, sftp_user_a):
    key = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    token = bytes(type(key).objects.get(pk=key.pk).encrypted_private_key).decode()
    page = admin_client.get(reverse("admin:routes_sftpuser_change", args=[sftp_user_a.pk]))
    html = page.content.decode()
    assert key.fingerprint in html
    assert token[:40] not in html
    assert "krypteret privat nøgle" not in html
    detail = admin_client.get(
        reverse("admin:routes_sftpkey_change", args=[key.pk])
    ).content.decode()
    assert key.fingerprint in detail
    assert token[:40] not in detail
    assert "krypteret privat nøgle" not in detail
    assert admin_client.get(reverse("admin:routes_sftpkey_add")).status_code == 403


def test_endpoint_host_key_is_validated_in_the_admin(admin_client, exttest):
    response = admin_client.post(
        reverse("admin:routes_endpoint_change", args=[exttest.pk]),
        {
            "slug": "exttest",
            "name": exttest.name,
            "host": exttest.host,
            "port": 22,
            "host_key": "SHA256:kort",
        },
    )
    assert response.status_code == 200
    assert "Linje 1: fingeraftrykket skal være" in response.content.decode()


def _endpoint_form(endpoint, **changes):
    form = {
        "slug": endpoint.slug,
        "name": endpoint.name,
        "host": endpoint.host,
        "port": endpoint.port,
        "host_key": endpoint.host_key,
        "parallel_connections": endpoint.parallel_connections,
    }
    form.update(changes)
    return form


def test_endpoint_page_offers_parallel_connections_and_refuses_more_than_one_for_kombit(
    admin_client, exttest
):
    url = reverse("admin:routes_endpoint_change", args=[exttest.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="parallel_connections"' in page
    assert "KOMBIT har ikke givet lov på Serviceplatformen" in page  # the help text

    response = admin_client.post(url, _endpoint_form(exttest, parallel_connections=2))
    assert response.status_code == 200
    assert "KOMBIT har ikke givet lov til at sende én fil over flere forbindelser" in (
        response.content.decode()
    )
    exttest.refresh_from_db()
    assert exttest.parallel_connections == 1


def test_endpoint_of_another_operator_takes_parallel_connections(admin_client):
    own = Endpoint.objects.create(slug="egen", name="Egen server", host="sftp.example.org")
    url = reverse("admin:routes_endpoint_change", args=[own.pk])
    response = admin_client.post(url, _endpoint_form(own, parallel_connections=3))
    assert response.status_code == 302, response.content.decode()[:2000]
    own.refresh_from_db()
    assert own.parallel_connections == 3


@pytest.mark.parametrize("persona", ["vendor_a_user", "consultant_user"])
def test_endpoint_page_is_for_administrators_only(client, request, exttest, persona):
    client.force_login(request.getfixturevalue(persona))
    url = reverse("admin:routes_endpoint_change", args=[exttest.pk])
    assert client.get(url).status_code == 302  # to the admin login
    response = client.post(url, _endpoint_form(exttest, parallel_connections=2))
    assert response.status_code == 302
    exttest.refresh_from_db()
    assert exttest.parallel_connections == 1


def test_endpoint_pages_keep_their_query_counts_with_more_endpoints(
    admin_client, exttest, django_assert_num_queries
):
    change = reverse("admin:routes_endpoint_change", args=[exttest.pk])
    listing = reverse("admin:routes_endpoint_changelist")
    admin_client.get(change)  # the session's first request settles its bookkeeping
    for more in (0, 20):
        for number in range(more):
            Endpoint.objects.create(slug=f"egen-{more}-{number}", name="Egen", host="h.example")
        with django_assert_num_queries(PAGE_QUERIES["change"]):
            assert admin_client.get(change).status_code == 200
        with django_assert_num_queries(PAGE_QUERIES["list"]):
            assert admin_client.get(listing).status_code == 200


# Pinned: the same with 2 or 22 endpoints (no query per row).
PAGE_QUERIES = {"change": 3, "list": 5}
