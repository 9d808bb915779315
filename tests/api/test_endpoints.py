"""The API's endpoints in this process (Django's test client): the rules the server tests
(test_server.py) do not already hold: rate limit, refusals as problems, idempotency edge cases,
lists and their filters, the check endpoint, the schema and its readers."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deliveries.api.models import IdempotencyKey
from deliveries.models import Delivery, ExpectedDelivery, ExpectedState, FileCheck
from deliveries.selectors import collecting_period
from routes.models import Kommune, ProcessingAgreement
from tests import factories
from tests.helpers.api import ApiWorld, token_for
from tests.helpers.portal_urls import Tenant, make_receipt

PROBLEM = "application/problem+json"


def _extract(n: int = 0) -> bytes:
    return factories.dagtilbud_csv(factories.dagtilbud_row(n)).encode()


class Api:
    def __init__(self, token: str) -> None:
        self.client = Client(raise_request_exception=False)
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def get(self, name: str, *args: Any, **params: Any) -> Any:
        return self.client.get(reverse(name, args=args), params, **self.auth)

    def upload(self, world: ApiWorld, content: bytes, key: str = "", **fields: Any) -> Any:
        data = {
            "route": world.route.pk,
            "period": "2026-10",
            "file": SimpleUploadedFile("udtraek.csv", content, "text/csv"),
            **fields,
        }
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        return self.client.post(reverse("api:deliveries"), data, **self.auth, **headers)


@pytest.fixture
def api(api_world: ApiWorld) -> Api:
    return Api(token_for(api_world.vendor_user))


def test_requests_over_the_rate_are_429_per_token(api_world: ApiWorld, settings: Any) -> None:
    """Rule: FLISPORTAL_API_RATE counts per token; another token is counted apart."""
    settings.API_RATE = "2/minute"
    busy = Api(token_for(api_world.vendor_user, name="travl"))
    calm = Api(token_for(api_world.vendor_user, name="rolig"))

    answers = [busy.get("api:deliveries").status_code for _ in range(3)]
    refused = busy.get("api:deliveries")

    assert answers == [200, 200, 429]
    assert refused["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert calm.get("api:deliveries").status_code == 200


def test_an_upload_intake_refuses_is_422_and_frees_its_key(api: Api, api_world: ApiWorld) -> None:
    """Rule: the same refusals as the form (here: no signed databehandleraftale), with the
    form's text; a refused upload makes nothing, so its key may be used again."""
    ProcessingAgreement.objects.all().delete()

    refused = api.upload(api_world, _extract(), key="k1")

    assert refused.status_code == 422
    problem = refused.json()
    assert problem["code"] == "upload_refused"
    assert problem["rule"] == "route"
    assert "databehandleraftale" in problem["detail"]
    assert not IdempotencyKey.objects.exists()
    factories.agreement(api_world.route.sender_system.vendor, api_world.route.kommune)
    assert api.upload(api_world, _extract(), key="k1").status_code == 201


def test_a_key_whose_first_request_is_still_running_is_409(api: Api, api_world: ApiWorld) -> None:
    """Rule: two copies of one request at once make one delivery; the second is told to ask
    again (the claim row exists, without a delivery yet)."""
    content = _extract()
    parts = [hashlib.sha256(content).hexdigest(), str(api_world.route.pk), "2026-10", "False", ""]
    IdempotencyKey.objects.create(
        user=api_world.vendor_user,
        key="busy",
        fingerprint=hashlib.sha256("|".join(parts).encode()).hexdigest(),
    )

    response = api.upload(api_world, content, key="busy")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert not Delivery.objects.filter(route=api_world.route).exists()


def test_a_claim_left_by_a_dead_request_is_taken_back(api: Api, api_world: ApiWorld) -> None:
    """Rule: a key claimed by a request that died before it recorded its delivery does not
    block the key for ever: after ten minutes the same request goes through."""
    content = _extract()
    parts = [hashlib.sha256(content).hexdigest(), str(api_world.route.pk), "2026-10", "False", ""]
    IdempotencyKey.objects.create(
        user=api_world.vendor_user,
        key="dead",
        fingerprint=hashlib.sha256("|".join(parts).encode()).hexdigest(),
        created_at=timezone.now() - timedelta(minutes=11),
    )

    response = api.upload(api_world, content, key="dead")

    assert response.status_code == 201, response.content
    claim = IdempotencyKey.objects.get(key="dead")
    assert str(claim.delivery.uuid) == response.json()["uuid"]  # type: ignore[union-attr]


def test_a_failure_inside_intake_is_a_500_problem_and_frees_the_key(
    api: Api, api_world: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule: a bug is a problem too (logged with its traceback), and since nothing was made
    the key is free for the same request again."""

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("storage gone")

    monkeypatch.setattr("deliveries.api.views.delivery_upload", broken)

    response = api.upload(api_world, _extract(), key="k-500")

    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "server_error"
    assert not IdempotencyKey.objects.filter(key="k-500").exists()


def test_an_unreadable_idempotency_key_is_400(api: Api, api_world: ApiWorld) -> None:
    response = api.upload(api_world, _extract(), key="x" * 256)

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert not Delivery.objects.filter(route=api_world.route).exists()


def test_a_file_the_form_refuses_is_422_with_the_forms_text(api: Api, api_world: ApiWorld) -> None:
    response = api.client.post(
        reverse("api:deliveries"),
        {
            "route": api_world.route.pk,
            "period": "2026-10",
            "file": SimpleUploadedFile("udtraek.xlsx", b"PK\x03\x04", "application/zip"),
        },
        **api.auth,
    )

    assert response.status_code == 422
    assert response.json()["code"] == "file_refused"
    assert "«.xlsx» accepteres ikke" in response.json()["detail"]


def test_a_missing_field_is_422_with_the_field_named(api: Api, api_world: ApiWorld) -> None:
    response = api.client.post(
        reverse("api:deliveries"),
        {"route": api_world.route.pk, "file": SimpleUploadedFile("a.csv", _extract())},
        **api.auth,
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert "period" in response.json()["errors"]


def test_list_filters_are_the_pages_and_a_wrong_one_is_422(api: Api, api_world: ApiWorld) -> None:
    october = factories.delivery(api_world.route, period="2026-10")
    factories.delivery(api_world.route, period="2026-09")

    found = api.get("api:deliveries", period="2026-10").json()["results"]
    wrong = api.get("api:deliveries", period="oktober")

    assert [row["uuid"] for row in found] == [str(october.uuid)]
    assert wrong.status_code == 422
    assert "period" in wrong.json()["errors"]


def test_routes_say_whether_they_may_be_delivered_to(api: Api, api_world: ApiWorld) -> None:
    unsigned = factories.route(
        sender_system=api_world.route.sender_system, kommune=factories.AARHUS, data_area="dagtilbud"
    )

    rows = {row["id"]: row["uploadable"] for row in api.get("api:routes").json()["results"]}

    assert rows == {api_world.route.pk: True, unsigned.pk: False}


def test_owed_periods_are_the_outstanding_pages(api: Api, api_world: ApiWorld) -> None:
    now = timezone.now()
    owed = ExpectedDelivery.objects.create(
        route=api_world.route,
        period=collecting_period(),
        due_at=now + timedelta(days=2),
        overdue_at=now + timedelta(days=3),
        state=ExpectedState.DUE_SOON,
    )

    rows = api.get("api:expected").json()["results"]
    outsider = Api(token_for(api_world.consultant)).get("api:expected", kommune=999999)

    assert [(row["id"], row["state"]) for row in rows] == [(owed.pk, "due_soon")]
    assert outsider.status_code == 422  # a kommune that is not the consultant's


def test_a_check_is_accepted_for_a_worker_and_makes_no_delivery(
    api: Api, api_world: ApiWorld
) -> None:
    """Rule: validate-only goes through delivery_check (same refusals as an upload), answers
    202 with the check to poll, and never makes a delivery."""
    response = api.client.post(
        reverse("api:checks"),
        {
            "route": api_world.route.pk,
            "period": "2026-10",
            "file": SimpleUploadedFile("udtraek.csv", _extract()),
        },
        **api.auth,
    )

    assert response.status_code == 202, response.content
    check = FileCheck.objects.get()
    assert response["Location"] == reverse("api:check", args=[check.uuid])
    assert response.json()["working"] is True
    assert not Delivery.objects.filter(route=api_world.route).exists()


def test_wrong_method_and_session_cookie_are_problems(api: Api, api_world: ApiWorld) -> None:
    """Rule: a method the endpoint lacks is a 405 problem; a signed-in browser session does
    not open the API (tokens only, so no CSRF to forge)."""
    put = api.client.put(reverse("api:deliveries"), **api.auth)
    browser = Client()
    browser.force_login(api_world.vendor_user)
    session = browser.get(reverse("api:deliveries"))

    assert put.status_code == 405
    assert put["Content-Type"] == PROBLEM
    assert "GET" in put["Allow"]
    assert session.status_code == 401
    assert session.json()["code"] == "not_authenticated"


def test_a_path_the_api_does_not_have_is_a_404_problem(api: Api) -> None:
    response = api.client.get("/api/v1/leverancer/", **api.auth)

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert "/api/v1/docs/" in response.json()["detail"]


def test_the_schema_and_its_readers_are_served_from_the_portal(api_world: ApiWorld) -> None:
    """Rule: OpenAPI 3 schema, Swagger UI and Redoc for signed-in people, their scripts from
    the installed sidecar package (no CDN)."""
    browser = Client()
    assert browser.get(reverse("api:docs")).status_code == 302  # to the login page
    browser.force_login(api_world.vendor_user)

    schema = browser.get(reverse("api:schema"), {"format": "json"})
    answers = [browser.get(reverse(name)) for name in ("api:docs", "api:redoc")]

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    listing = schema.json()["paths"]["/api/v1/deliveries/"]["get"]
    # The list as it is answered: a page of rows, filtered by the page's filter form.
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DeliverySummaryPage"
    }
    problem = listing["responses"]["401"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    upload = schema.json()["paths"]["/api/v1/deliveries/"]["post"]["responses"]
    assert {"201", "409", "413", "422"} <= set(upload)
    assert {p["name"] for p in listing["parameters"]} == {
        "data_area",
        "kommune",
        "period",
        "status",
        "it_system",
        "endpoint",
        "q",
        "page",
    }
    for answer in answers:
        html = answer.content.decode()
        assert "/static/drf_spectacular_sidecar/" in html
        # Nothing from another host: no CDN, no web fonts.
        assert "https://" not in html and "http://" not in html
        assert "script-src 'self';" in answer["Content-Security-Policy"]


@pytest.mark.parametrize("name", ["api:deliveries", "api:receipts", "api:routes", "api:expected"])
def test_a_list_takes_as_many_queries_for_many_rows_as_for_one(
    name: str, api_world: ApiWorld, private_media: Any
) -> None:
    """Rule: no query per row (an N+1 would make a 98-kommune vendor's lists slow)."""
    admin = Api(token_for(factories.admin()))
    flis_sftp = factories.sftp_user(factories.flis_system(), "FLIS_SFTP")
    system = api_world.route.sender_system
    others = Kommune.objects.exclude(code__in=[factories.KBH, factories.AARHUS]).order_by("code")

    def grow(kommuner: Any) -> None:
        """Per kommune: a route, a delivery, its receipt and a period owed."""
        for kommune in kommuner:
            route = factories.route(sender_system=system, kommune=kommune, data_area="dagtilbud")
            delivery = factories.delivery(route)
            tenant = Tenant(system.vendor, kommune, system, flis_sftp, route, delivery)  # type: ignore[arg-type]
            make_receipt(tenant, flis_sftp)
            ExpectedDelivery.objects.create(
                route=route,
                period=collecting_period(),
                due_at=timezone.now() + timedelta(days=2),
                overdue_at=timezone.now() + timedelta(days=3),
                state=ExpectedState.DUE_SOON,
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin.get(name).status_code == 200
        return len(captured)

    grow(others[:1])
    few = queries()
    grow(others[1:6])

    assert queries() == few
