"""The access matrix: every named portal URL × every role, generated from the URL configuration.

The URL list is not written by hand: it is walked out of `get_resolver()`
(tests/helpers/portal_urls.py). A new page therefore shows up here by itself and fails until
someone (1) says how to fill its URL arguments from a tenant's objects (KWARGS_BY_NAME or
PK_BY_URL in tests/helpers/portal_urls.py) and (2) declares who may see it in `POLICY`. That is
the point: a page added without scoping cannot slip through unnoticed.

The world owns one object of each kind per tenant: vendor A (with its IT-system, SFTP user,
route, delivery and receipt for København) and vendor B (the same for Aarhus). It is built once
for the module; each test rolls back what it changes.

Two questions per page. POLICY: what each role gets for tenant A's objects (200, 302, 404,
405). SCOPE: who may reach a page's objects, said relative to the objects the URL names; the
matrix then fills the URL with every combination of the tenants' objects (for a vendor id and
a kommune code: every vendor × every kommune) and every persona outside the scope must get 404
(not 403: existence must not leak), every one inside it 200. A page that looks an object up
without scoping fails here whoever wrote it (issue #14: the onboarding checklist showed any
vendor to any consultant, and one pair of tenants did not find it).

Roles:
- anonymous: everything sends to the login page (302).
- admin: everything.
- vendor_a / vendor_b: staff of the two vendors.
- consultant: consultant of København (the kommune of vendor A's objects).
- consultant_other: consultant of Aarhus only.
- nobody: logged in, but no role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from routes.models import RouteStatus, User
from tests import factories
from tests.helpers.portal_urls import (
    URLS,
    Combination,
    PortalUrl,
    Tenant,
    fill_kwargs,
    make_batch,
    make_receipt,
    make_tenant,
    tenant_combinations,
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
    "front:help": _everyone(OK),
    # Driftsstatus: queues, workers, endpoints and host keys are operations' business.
    "front:drift": ADMIN,
    # Kør nu: POST only, for administrators (tests/front/test_drift_actions.py).
    "front:drift_run_job": POST_ONLY,
    # Registry: route orders are the administrators' work.
    "routes:route_orders": ADMIN,
    "routes:route_bulk_order": ADMIN,
    "routes:route_bulk_transition": ADMIN,
    "routes:kommune_routes": ADMIN,
    "routes:route_order_create": POST_ONLY,
    "routes:route_detail": A_AND_KOMMUNE,
    "routes:route_transition": POST_ONLY,
    "front:onboarding": A_AND_KOMMUNE,
    # Coverage is for kommuner: every consultant sees their own kommuner (the other consultant
    # sees Aarhus only, which the coverage tests pin); vendors have their own overview.
    "front:coverage": _only("admin", "consultant", "consultant_other"),
    "front:coverage_csv": _only("admin", "consultant", "consultant_other"),
    # A kommune's own page: its consultants, the staff of vendors that work with it (vendor A
    # has the route for København) and administrators.
    "front:kommune": A_AND_KOMMUNE,
    # Udvikling, like coverage, is for the kommune side (each consultant their own kommuner,
    # pinned in tests/front/test_trends.py); it compares vendors, so vendor staff get 404.
    "front:trends": _only("admin", "consultant", "consultant_other"),
    "front:trends_csv": _only("admin", "consultant", "consultant_other"),
    "routes:vendor_overview": _only("admin", "vendor_a", "vendor_b"),
    "routes:vendor_overview_for": A_ONLY,
    # Keys are the vendor's business: consultants see none.
    "routes:sftp_user_detail": A_ONLY,
    "routes:sftp_key_generate": POST_ONLY,
    "routes:sftp_key_rotate": POST_ONLY,
    "routes:sftp_key_upload": POST_ONLY,
    "routes:sftp_key_confirm_rotation": POST_ONLY,
    "routes:sftp_key_discard_rotation": POST_ONLY,
    # Deliveries: the list is scoped (a user without a role gets an empty list, not an error).
    "deliveries:list": _everyone(OK),
    "deliveries:list_csv": _everyone(OK),
    "deliveries:upload": _only("admin", "vendor_a", "vendor_b"),
    # The periods still owed: scoped like the list (tests/deliveries/test_outstanding.py).
    "deliveries:outstanding": _everyone(OK),
    "deliveries:outstanding_csv": _everyone(OK),
    "deliveries:detail": A_AND_KOMMUNE,
    "deliveries:status": A_AND_KOMMUNE,
    "deliveries:download": A_AND_KOMMUNE,
    "deliveries:report_csv": A_AND_KOMMUNE,
    "deliveries:retry": POST_ONLY,
    # A check without sending: only the staff member who asked for it; not even an
    # administrator (deliveries/access.py file_check_or_404).
    "deliveries:check": _only("vendor_a"),
    "deliveries:check_report_csv": _only("vendor_a"),
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
    # Samlet upload: the page for whoever may upload; a batch only for its uploader (vendor A's
    # staff member here), administrators included among those who get 404.
    "deliveries:batch_upload": _only("admin", "vendor_a", "vendor_b"),
    "deliveries:batch": _only("vendor_a"),
    "deliveries:batch_file": _only("vendor_a"),
    "deliveries:batch_progress": _only("vendor_a"),
    "deliveries:batch_status": _only("vendor_a"),
    "deliveries:batch_file_drop": POST_ONLY,
    "deliveries:batch_confirm": POST_ONLY,
    # Contracts: every logged-in user may read what a file must look like.
    "deliveries:contracts": _everyone(OK),
    "deliveries:contract": _everyone(OK),
    "deliveries:contract_template": _everyone(OK),
}

# Who may act through a POST-only URL on vendor A's objects. Everyone else logged in gets 404.
POST_ALLOWED: dict[str, tuple[str, ...]] = {
    "routes:route_order_create": ("admin",),
    "routes:route_transition": ("admin",),
    "routes:sftp_key_generate": ("admin", "vendor_a"),
    "routes:sftp_key_rotate": ("admin", "vendor_a"),
    "routes:sftp_key_upload": ("admin",),
    "routes:sftp_key_confirm_rotation": ("admin",),
    "routes:sftp_key_discard_rotation": ("admin", "vendor_a"),
    # Only administrators and the uploader (vendor A's staff member here) may retry.
    "deliveries:retry": ("admin", "vendor_a"),
    "deliveries:batch_file_drop": ("vendor_a",),
    "deliveries:batch_confirm": ("vendor_a",),
    # Kør nu on Driftsstatus (an empty form names no job: a message, nothing queued).
    "front:drift_run_job": ("admin",),
}


@dataclass(frozen=True)
class Persona:
    """What a role is, in the world's tenant letters: the matrix judges scope from this."""

    admin: bool = False
    vendor: str | None = None  # staff of this tenant's vendor
    kommuner: frozenset[str] = frozenset()  # consultant of these tenants' kommuner
    # Vendors with an agreement or a route for one of those kommuner: each tenant's route is
    # for its own kommune, and the world holds no other.
    partners: frozenset[str] = frozenset()


PERSONAS: dict[str, Persona] = {
    "admin": Persona(admin=True),
    "vendor_a": Persona(vendor="A"),
    "vendor_b": Persona(vendor="B"),
    "consultant": Persona(kommuner=frozenset("A"), partners=frozenset("A")),
    "consultant_other": Persona(kommuner=frozenset("B"), partners=frozenset("B")),
    "nobody": Persona(),
}

Scope = Callable[[Persona, Combination], bool]


def _admin(persona: Persona, named: Combination) -> bool:
    return persona.admin


def _the_vendor(persona: Persona, named: Combination) -> bool:
    return persona.admin or (named.vendor is not None and persona.vendor == named.vendor)


def _the_kommune(persona: Persona, named: Combination) -> bool:
    return persona.admin or named.kommune in persona.kommuner


def _the_vendor_or_kommune(persona: Persona, named: Combination) -> bool:
    return _the_vendor(persona, named) or _the_kommune(persona, named)


def _kommune_side(persona: Persona, named: Combination) -> bool:
    # Udvikling's charts name no tenant's object: administrators and every consultant (each
    # sees their own kommuner' numbers, pinned in tests/front/test_trends.py).
    return persona.admin or bool(persona.kommuner)


def _the_maker(persona: Persona, named: Combination) -> bool:
    # Each tenant's check and batch upload were made by its vendor's staff member: that persona
    # and no one else, administrators included.
    return named.vendor is not None and persona.vendor == named.vendor


def _anyone(persona: Persona, named: Combination) -> bool:
    return True


def _onboarding(persona: Persona, named: Combination) -> bool:
    # The vendor's staff for any kommune; a consultant only for their own kommuner and only
    # vendors that work with one of them (routes.access.onboarding_pair_or_404).
    return _the_vendor(persona, named) or (
        named.kommune in persona.kommuner and named.vendor in persona.partners
    )


def _kommune_page(persona: Persona, named: Combination) -> bool:
    # Kommune.objects.for_user: a vendor's staff see the kommuner their vendor has an agreement
    # or a route with; each tenant's vendor works with its own tenant's kommune only.
    return _the_kommune(persona, named) or (
        persona.vendor is not None and persona.vendor == named.kommune
    )


# Who may reach the objects a URL names (GET, or POST for the POST-only ones), for any
# combination of the tenants' objects.
SCOPE: dict[str, Scope] = {
    "front:kommune": _kommune_page,
    "front:onboarding": _onboarding,
    "routes:kommune_routes": _admin,
    "routes:route_order_create": _admin,
    "routes:route_detail": _the_vendor_or_kommune,
    "routes:route_transition": _admin,
    "routes:vendor_overview_for": _the_vendor,
    "routes:sftp_user_detail": _the_vendor,
    "routes:sftp_key_generate": _the_vendor,
    "routes:sftp_key_rotate": _the_vendor,
    "routes:sftp_key_upload": _admin,
    "routes:sftp_key_confirm_rotation": _admin,
    "routes:sftp_key_discard_rotation": _the_vendor,
    "deliveries:kommune_history": _the_kommune,
    "deliveries:detail": _the_vendor_or_kommune,
    "deliveries:status": _the_vendor_or_kommune,
    # Each tenant's delivery was uploaded by its vendor's staff member, the one who may retry.
    "deliveries:retry": _the_vendor,
    "deliveries:download": _the_vendor_or_kommune,
    "deliveries:report_csv": _the_vendor_or_kommune,
    "deliveries:receipt": _the_vendor_or_kommune,
    "deliveries:receipt_download": _the_kommune,
    "deliveries:batch": _the_maker,
    "deliveries:batch_file": _the_maker,
    "deliveries:batch_file_drop": _the_maker,
    "deliveries:batch_confirm": _the_maker,
    "deliveries:batch_progress": _the_maker,
    "deliveries:batch_status": _the_maker,
    "deliveries:check": _the_maker,
    "deliveries:check_report_csv": _the_maker,
    "front:trends_csv": _kommune_side,
    "deliveries:contract": _anyone,
    "deliveries:contract_template": _anyone,
}


@dataclass
class World:
    a: Tenant
    b: Tenant
    users: dict[str, User | None]

    @property
    def tenants(self) -> dict[str, Tenant]:
        return {"A": self.a, "B": self.b}


def _build_world() -> World:
    a = make_tenant("A", factories.KBH, "A_SFTP")
    b = make_tenant("B", factories.AARHUS, "B_SFTP")
    flis_system = factories.flis_system()
    flis_sftp = factories.sftp_user(flis_system, "FLIS_SFTP")
    for tenant in (a, b):
        tenant.route.recipient_systems.add(flis_system)
        make_receipt(tenant, flis_sftp)

    def user(username: str, **extra: Any) -> User:
        # No password: the clients log in with force_login, and hashing seven passwords per
        # test would make the matrix slow for nothing.
        return User.objects.create_user(username, **extra)

    vendor_a = user("vendor-a", vendor=a.vendor)
    vendor_b = user("vendor-b", vendor=b.vendor)
    # Each vendor's staff member uploaded its delivery, so the retry policy applies to them.
    Delivery.objects.filter(pk=a.delivery.pk).update(uploaded_by=vendor_a)
    Delivery.objects.filter(pk=b.delivery.pk).update(uploaded_by=vendor_b)
    make_batch(a, vendor_a)
    make_batch(b, vendor_b)
    a.file_check = factories.file_check(a.route, vendor_a)
    b.file_check = factories.file_check(b.route, vendor_b)
    consultant = user("konsulent-kbh")
    consultant.kommuner.add(a.kommune)
    consultant_other = user("konsulent-aarhus")
    consultant_other.kommuner.add(b.kommune)
    users: dict[str, User | None] = {
        "anonymous": None,
        "admin": user("admin", is_staff=True, is_superuser=True),
        "vendor_a": vendor_a,
        "vendor_b": vendor_b,
        "consultant": consultant,
        "consultant_other": consultant_other,
        "nobody": user("nobody"),
    }
    return World(a=a, b=b, users=users)


@pytest.fixture(scope="module")
def matrix_world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory
) -> Iterator[World]:
    """The world, built once for the module inside a transaction that is rolled back at its
    end; each test's own transaction nests in it, so what a test changes is undone after it.
    Its stored files go to a media folder of the module's own (cf. `private_media`)."""
    folder = tmp_path_factory.mktemp("matrix") / "private"
    media = override_settings(
        MEDIA_ROOT=str(folder),
        STORAGES={
            **django_settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(folder), "base_url": None},
            },
        },
    )
    with media, django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


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
    # A page that names objects says whose objects it shows, for the combinations test.
    with_objects = {url.name for url in URLS if url.kwargs}
    assert sorted(with_objects - set(SCOPE)) == [], "say who may reach these pages in SCOPE"
    assert not sorted(set(SCOPE) - with_objects), "SCOPE names URLs without objects"


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
def test_every_combination_of_tenants_objects_answers_per_scope(
    url: PortalUrl, matrix_world: World
):
    """Rule: a persona outside a page's scope gets 404 for every combination of objects the
    URL can name (another vendor's, another kommune's, or one of each), whether it reads or
    posts, so it cannot even learn that they exist; a persona inside it gets the page.

    POST-only URLs are checked for the 404s only: acting is test_post_only_urls_act_…'s."""
    scope = SCOPE[url.name]
    post_only = POLICY[url.name] == POST_ONLY
    wrong = []
    for combination in tenant_combinations(url, matrix_world.tenants):
        path = reverse(url.name, kwargs=combination.kwargs)
        for role, persona in PERSONAS.items():
            allowed = scope(persona, combination)
            if post_only and allowed:
                continue
            client = client_for(matrix_world, role)
            status = (client.post(path, {}) if post_only else client.get(path)).status_code
            if status != (OK if allowed else NOT_FOUND):
                wrong.append(f"{role} on {combination} ({path}): {status}")
    assert not wrong, "\n".join(wrong)


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
