"""The API's access matrix: every API URL that names an object × every persona, by token.

The pages' matrix (tests/flisportal/test_access_matrix.py) leaves /api/v1/ out, since the API
answers tokens and not sessions; this one holds the same rule for it over the same tenants
(tests/helpers/portal_urls.py): a persona outside an object's scope gets 404 for every tenant's
object, one inside it gets 200.

Personas: admin (everything), vendor_a / vendor_b (staff of the two vendors), consultant (of
København, tenant A's kommune), consultant_other (of Aarhus, tenant B's), nobody (a login
without a role).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deliveries.models import FileCheck
from routes.models import User
from tests import factories
from tests.helpers.api import token_for
from tests.helpers.portal_urls import Tenant, make_receipt, make_tenant


@dataclass
class Matrix:
    tenants: dict[str, Tenant]
    users: dict[str, User]
    tokens: dict[str, str]

    def get(self, role: str, path: str, **extra: Any) -> Any:
        return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {self.tokens[role]}", **extra)


@pytest.fixture
def matrix(db: None, private_media: Path) -> Matrix:
    a = make_tenant("A", factories.KBH, "A_SFTP")
    b = make_tenant("B", factories.AARHUS, "B_SFTP")
    flis_sftp = factories.sftp_user(factories.flis_system(), "FLIS_SFTP")
    for tenant in (a, b):
        make_receipt(tenant, flis_sftp)
    users = {
        "admin": factories.admin(),
        "vendor_a": factories.vendor_staff(a.vendor, "vendor-a"),
        "vendor_b": factories.vendor_staff(b.vendor, "vendor-b"),
        "consultant": factories.consultant(a.kommune, username="konsulent-kbh"),
        "consultant_other": factories.consultant(b.kommune, username="konsulent-aarhus"),
        "nobody": User.objects.create_user("nobody"),
    }
    tokens = {role: token_for(user) for role, user in users.items()}
    return Matrix({"A": a, "B": b}, users, tokens)


def _sees_tenant(role: str, letter: str) -> bool:
    return (
        role == "admin"
        or role
        in {
            "A": ("vendor_a", "consultant"),
            "B": ("vendor_b", "consultant_other"),
        }[letter]
    )


def _kommune_of_tenant(role: str, letter: str) -> bool:
    return role == "admin" or role == {"A": "consultant", "B": "consultant_other"}[letter]


# URL name → (argument, who reaches the object of tenant `letter`).
OBJECT_URLS = {
    "api:delivery": ("delivery_uuid", _sees_tenant),
    "api:delivery_report": ("delivery_uuid", _sees_tenant),
    "api:delivery_report_csv": ("delivery_uuid", _sees_tenant),
    "api:delivery_file": ("delivery_uuid", _sees_tenant),
    "api:receipt": ("receipt_uuid", _sees_tenant),
    # Fetched files hold personal data: the kommune's consultants and administrators only.
    "api:receipt_file": ("receipt_uuid", _kommune_of_tenant),
}


@pytest.mark.parametrize("name", OBJECT_URLS)
def test_every_tenants_object_answers_per_scope(name: str, matrix: Matrix) -> None:
    """Rule: scoping as on the pages (deliveries/access.py); outside it, 404 and never 403."""
    argument, scope = OBJECT_URLS[name]
    wrong = []
    for letter, tenant in matrix.tenants.items():
        value = tenant.delivery.uuid if argument == "delivery_uuid" else tenant.receipt.uuid  # type: ignore[union-attr]
        path = reverse(name, kwargs={argument: value})
        for role in matrix.users:
            status = matrix.get(role, path).status_code
            if status != (200 if scope(role, letter) else 404):
                wrong.append(f"{role} on tenant {letter}'s {path}: {status}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", ["api:deliveries", "api:receipts"])
def test_lists_hold_only_the_rows_in_scope(name: str, matrix: Matrix) -> None:
    """Rule: lists start from the same for_user() querysets as the pages."""
    for role in matrix.users:
        rows = matrix.get(role, reverse(name)).json()["results"]
        letters = {
            letter
            for letter, tenant in matrix.tenants.items()
            for row in rows
            if row["uuid"] in (str(tenant.delivery.uuid), str(tenant.receipt.uuid))  # type: ignore[union-attr]
        }
        assert letters == {letter for letter in matrix.tenants if _sees_tenant(role, letter)}, role


def test_only_uploaders_may_post_a_delivery(matrix: Matrix) -> None:
    """Rule: as on the upload page, consultants and users without a role get 404, before the
    body is read."""
    path = reverse("api:deliveries")
    for role in ("consultant", "nobody"):
        response = Client().post(
            path,
            {"route": matrix.tenants["A"].route.pk, "period": "2026-10"},
            HTTP_AUTHORIZATION=f"Bearer {matrix.tokens[role]}",
        )
        assert response.status_code == 404, role
        assert response["Content-Type"] == "application/problem+json"


def test_a_check_is_seen_by_the_person_who_asked_for_it_only(matrix: Matrix) -> None:
    """Rule: a check without sending is its asker's draft (FileCheck.objects.for_user):
    colleagues and administrators get 404."""
    colleague = factories.vendor_staff(matrix.tenants["A"].vendor, "vendor-a-2")
    check = FileCheck.objects.create(
        user=matrix.users["vendor_a"],
        route=matrix.tenants["A"].route,
        period="2026-10",
        original_filename="x.csv",
        size=1,
        sha256="0" * 64,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    path = reverse("api:check", kwargs={"check_uuid": check.uuid})

    assert matrix.get("vendor_a", path).status_code == 200
    assert matrix.get("admin", path).status_code == 404
    other = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token_for(colleague)}")
    assert other.status_code == 404
