"""The access matrix: every named portal URL × every role, generated from the URL configuration.

The URL list is not written by hand: it is walked out of `get_resolver()`
(tests/helpers/portal_urls.py). A new page therefore shows up here by itself and fails until
someone (1) says how to fill its URL arguments from a tenant's objects (KWARGS_BY_NAME or
PK_BY_URL in tests/helpers/portal_urls.py) and (2) declares who may see it in `POLICY`. That is
the point: a page added without scoping cannot slip through unnoticed.

The world owns one object of each kind per tenant: vendor A (with its IT-system, SFTP user,
route and delivery for København) and vendor B (the same for Aarhus). Every URL is asked about
vendor A's / København's objects, so vendor B and the consultant of another kommune must get
404 (not 403: existence must not leak) wherever an object is named.

Roles:
- anonymous: everything sends to the login page (302).
- admin: everything.
- vendor_a / vendor_b: staff of the two vendors.
- consultant: consultant of København (the kommune of vendor A's objects).
- consultant_other: consultant of Aarhus only.
- nobody: logged in, but no role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from routes.models import RouteStatus, User
from tests import factories
from tests.helpers.portal_urls import (
    URLS,
    PortalUrl,
    Tenant,
    fill_kwargs,
    make_receipt,
    make_tenant,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "admin", "vendor_a", "vendor_b", "consultant", "consultant_other", "nobody")

LOGIN = "302 login"
OK = 200
NOT_FOUND = 404
NOT_ALLOWED = 405


def _everyone(status: int) -> dict[str, Any]:
    return {role: status for role in ROLES if role != "anonymous"} | {"anonymous": LOGIN}


def _only(*roles: str) -> dict[str, Any]:
    """200 for the named roles, 404 for every other logged-in role."""
    return {
        role: (LOGIN if role == "anonymous" else OK if role in roles else NOT_FOUND)
        for role in ROLES
    }


ADMIN = _only("admin")
# Read access to one of vendor A's objects for København: the vendor's staff, the kommune's
# consultant and administrators.
A_AND_KOMMUNE = _only("admin", "vendor_a", "consultant")
A_ONLY = _only("admin", "vendor_a")
POST_ONLY = _everyone(NOT_ALLOWED)

# What a GET answers, per URL name and role.
POLICY: dict[str, dict[str, Any]] = {
    "front:start": _everyone(OK),
    # Driftsstatus: queues, workers, endpoints and host keys are operations' business.
    "front:drift": ADMIN,
    # Registry: route orders are the administrators' work.
    "routes:route_orders": ADMIN,
    "routes:route_bulk_order": ADMIN,
    "routes:kommune_routes": ADMIN,
    "routes:route_order_create": POST_ONLY,
    "routes:route_detail": A_AND_KOMMUNE,
    "routes:route_transition": POST_ONLY,
    "front:onboarding": A_AND_KOMMUNE,
    # Coverage is for kommuner: every consultant sees their own kommuner (the other consultant
    # sees Aarhus only, which the coverage tests pin); vendors have their own overview.
    "front:coverage": _only("admin", "consultant", "consultant_other"),
    "front:coverage_csv": _only("admin", "consultant", "consultant_other"),
    "routes:vendor_overview": _only("admin", "vendor_a", "vendor_b"),
    "routes:vendor_overview_for": A_ONLY,
    # Keys are the vendor's business: consultants see none.
    "routes:sftp_user_detail": A_ONLY,
    "routes:sftp_key_generate": POST_ONLY,
    "routes:sftp_key_rotate": POST_ONLY,
    "routes:sftp_key_upload": POST_ONLY,
    "routes:sftp_key_confirm_rotation": POST_ONLY,
    # Deliveries: the list is scoped (a user without a role gets an empty list, not an error).
    "deliveries:list": _everyone(OK),
    "deliveries:upload": _only("admin", "vendor_a", "vendor_b"),
    # The periods still owed: scoped like the list (tests/deliveries/test_outstanding.py).
    "deliveries:outstanding": _everyone(OK),
    "deliveries:outstanding_csv": _everyone(OK),
    "deliveries:detail": A_AND_KOMMUNE,
    "deliveries:status": A_AND_KOMMUNE,
    "deliveries:download": A_AND_KOMMUNE,
    "deliveries:report_csv": A_AND_KOMMUNE,
    "deliveries:retry": POST_ONLY,
    # A kommune's delivery history: that kommune's consultants and administrators.
    "deliveries:kommune_history": _only("admin", "consultant"),
    # The audit log: administrators all entries, consultants their kommuners' entries.
    "audit:log": _only("admin", "consultant", "consultant_other"),
    "audit:log_csv": _only("admin", "consultant", "consultant_other"),
    # The Hent-side inbox: a scoped list for everyone; a receipt for the kommune's consultants,
    # administrators and the vendor whose delivery it was; its file only for the first two.
    "deliveries:inbox": _everyone(OK),
    "deliveries:inbox_csv": _everyone(OK),
    "deliveries:receipt": A_AND_KOMMUNE,
    "deliveries:receipt_download": _only("admin", "consultant"),
}

# Who may act through a POST-only URL on vendor A's objects. Everyone else logged in gets 404.
POST_ALLOWED: dict[str, tuple[str, ...]] = {
    "routes:route_order_create": ("admin",),
    "routes:route_transition": ("admin",),
    "routes:sftp_key_generate": ("admin", "vendor_a"),
    "routes:sftp_key_rotate": ("admin", "vendor_a"),
    "routes:sftp_key_upload": ("admin",),
    "routes:sftp_key_confirm_rotation": ("admin", "vendor_a"),
    # Only administrators and the uploader (vendor A's staff member here) may retry.
    "deliveries:retry": ("admin", "vendor_a"),
}


@dataclass
class World:
    a: Tenant
    b: Tenant
    users: dict[str, User | None]


@pytest.fixture
def matrix_world(private_media, flis_system) -> World:
    a = make_tenant("A", factories.KBH, "A_SFTP")
    b = make_tenant("B", factories.AARHUS, "B_SFTP")
    flis_sftp = factories.sftp_user(flis_system, "FLIS_SFTP")
    for tenant in (a, b):
        tenant.route.recipient_systems.add(flis_system)
        make_receipt(tenant, flis_sftp)

    def user(username: str, **extra: Any) -> User:
        # No password: the clients log in with force_login, and hashing seven passwords per
        # test would make the matrix slow for nothing.
        return User.objects.create_user(username, **extra)

    vendor_a = user("vendor-a", vendor=a.vendor)
    # vendor A's staff member uploaded A's delivery, so the retry policy applies to them.
    Delivery.objects.filter(pk=a.delivery.pk).update(uploaded_by=vendor_a)
    consultant = user("konsulent-kbh")
    consultant.kommuner.add(a.kommune)
    consultant_other = user("konsulent-aarhus")
    consultant_other.kommuner.add(b.kommune)
    users: dict[str, User | None] = {
        "anonymous": None,
        "admin": user("admin", is_staff=True, is_superuser=True),
        "vendor_a": vendor_a,
        "vendor_b": user("vendor-b", vendor=b.vendor),
        "consultant": consultant,
        "consultant_other": consultant_other,
        "nobody": user("nobody"),
    }
    return World(a=a, b=b, users=users)


def client_for(world: World, role: str, **options: Any) -> Client:
    client = Client(**options)
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    return client


def test_every_portal_url_has_a_declared_policy():
    names = {url.name for url in URLS}
    missing = sorted(names - set(POLICY))
    assert not missing, (
        f"Pages without an access policy: {missing}. Declare for each role what a GET answers "
        "in POLICY (tests/flisportal/test_access_matrix.py)."
    )
    # A stale entry would hide a renamed page.
    assert not sorted(set(POLICY) - names), "POLICY names URLs that no longer exist"
    for name in (n for n, p in POLICY.items() if p == POST_ONLY):
        assert name in POST_ALLOWED, f"{name} is POST-only: say who may post in POST_ALLOWED"


def test_the_walk_finds_pages_of_every_app():
    # Guards the walker itself: if it stopped descending into includes, the matrix would pass
    # on an empty list.
    names = {url.name for url in URLS}
    expected = {"front:start", "front:coverage", "deliveries:detail", "routes:sftp_user_detail"}
    assert expected <= names
    assert len(URLS) >= 20


@pytest.mark.parametrize("url", URLS, ids=lambda u: u.name)
def test_get_answers_per_policy_for_every_role(url: PortalUrl, matrix_world: World):
    kwargs = fill_kwargs(url, matrix_world.a)
    path = reverse(url.name, kwargs=kwargs)
    policy = POLICY[url.name]
    got = {}
    for role in ROLES:
        response = client_for(matrix_world, role).get(path)
        if response.status_code == 302 and response["Location"].startswith(
            reverse("login") + "?next="
        ):
            got[role] = LOGIN
        else:
            got[role] = response.status_code
    assert got == policy, f"GET {path}"


@pytest.mark.parametrize("url", [u for u in URLS if u.kwargs], ids=lambda u: u.name)
def test_other_tenants_get_404_on_named_objects_for_every_method(
    url: PortalUrl, matrix_world: World
):
    """Vendor B and Aarhus's consultant name vendor A's / København's object: 404 whether they
    read it or post to it, so they cannot even learn that it exists."""
    path = reverse(url.name, kwargs=fill_kwargs(url, matrix_world.a))
    for role in ("vendor_b", "consultant_other", "nobody"):
        client = client_for(matrix_world, role)
        if POLICY[url.name] == POST_ONLY:
            assert client.post(path, {}).status_code == NOT_FOUND, (role, path)
        else:
            assert client.get(path).status_code == NOT_FOUND, (role, path)


@pytest.mark.parametrize("url", [u for u in URLS if u.name in POST_ALLOWED], ids=lambda u: u.name)
def test_post_only_urls_act_only_for_the_allowed_roles(url: PortalUrl, matrix_world: World):
    path = reverse(url.name, kwargs=fill_kwargs(url, matrix_world.a))
    allowed = POST_ALLOWED[url.name]
    for role in ROLES:
        status = client_for(matrix_world, role).post(path, {}).status_code
        if role == "anonymous":
            assert status == 302, path
        elif role in allowed:
            # An empty form: either re-shown with errors or acted on and redirected.
            assert status in (200, 302, 400), (role, path, status)
        else:
            assert status == NOT_FOUND, (role, path, status)


@pytest.mark.parametrize("url", URLS, ids=lambda u: u.name)
def test_post_without_csrf_token_is_refused(url: PortalUrl, matrix_world: World):
    path = reverse(url.name, kwargs=fill_kwargs(url, matrix_world.a))
    client = client_for(matrix_world, "admin", enforce_csrf_checks=True)
    response = client.post(path, {"note": "x"})
    assert response.status_code == 403, path
    # Nothing happened: A's delivery was not retried and the route did not move.
    matrix_world.a.delivery.refresh_from_db()
    assert matrix_world.a.delivery.status == DeliveryStatus.FAILED
    matrix_world.a.route.refresh_from_db()
    assert matrix_world.a.route.status == RouteStatus.ESTABLISHED


def test_post_with_csrf_token_gets_through(matrix_world: World):
    # The counterpart of the test above, so that a 403 there is the token's doing and not,
    # say, a broken login.
    client = client_for(matrix_world, "admin", enforce_csrf_checks=True)
    path = reverse("deliveries:retry", kwargs={"delivery_uuid": matrix_world.a.delivery.uuid})
    client.get(reverse("deliveries:detail", kwargs={"delivery_uuid": matrix_world.a.delivery.uuid}))
    token = client.cookies["csrftoken"].value
    response = client.post(path, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_portal_pages_send_the_security_headers(matrix_world: World):
    response = client_for(matrix_world, "vendor_a").get(reverse("deliveries:list"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
