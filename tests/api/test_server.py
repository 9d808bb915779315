"""The API against a real server: gunicorn on a loopback port, called with http.client, as a
vendor's script calls it. Each test holds one rule of docs/users/api.md."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from deliveries.api.models import ApiToken
from deliveries.models import Delivery
from flisportal.audit.models import AuditEntry
from tests import factories
from tests.fixtures.api import SERVER_MAX_UPLOAD_BYTES, ApiServer
from tests.helpers.api import ApiWorld, Client, Multipart, token_for

pytestmark = pytest.mark.redis

PROBLEM = "application/problem+json"


def _extract(n: int = 0) -> bytes:
    return factories.dagtilbud_csv(factories.dagtilbud_row(n)).encode()


def _upload(world: ApiWorld, content: bytes) -> Multipart:
    return Multipart({"route": str(world.route.pk), "period": "2026-10"}, content=content)


def test_a_retried_upload_with_the_same_idempotency_key_makes_one_delivery(
    api_server: ApiServer, served_world: ApiWorld
) -> None:
    """Rule: the same Idempotency-Key and the same body return the first result; nothing is
    made twice (a script retrying after a lost answer)."""
    client = Client(api_server.port, token_for(served_world.vendor_user))
    body = _upload(served_world, _extract())
    key = {"Idempotency-Key": "kbh-dagtilbud-2026-10-a"}

    first = client.call("POST", "/api/v1/deliveries/", body=body, headers=key)
    again = client.call("POST", "/api/v1/deliveries/", body=body, headers=key)

    assert first.status == 201, first.body
    assert again.status == 200, again.body
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["uuid"] == first.json()["uuid"]
    assert first.headers["location"] == f"/api/v1/deliveries/{first.json()['uuid']}/"
    assert Delivery.objects.filter(route=served_world.route).count() == 1
    audit = AuditEntry.objects.filter(action="delivery.upload_api")
    assert [entry.object_id for entry in audit] == [
        str(Delivery.objects.get(route=served_world.route).pk)
    ]


def test_the_same_idempotency_key_with_another_file_is_a_problem(
    api_server: ApiServer, served_world: ApiWorld
) -> None:
    """Rule: a key names one request; another file under it is refused (422) and makes
    nothing."""
    client = Client(api_server.port, token_for(served_world.vendor_user))
    key = {"Idempotency-Key": "only-once"}
    first = client.call(
        "POST", "/api/v1/deliveries/", body=_upload(served_world, _extract(1)), headers=key
    )
    other = client.call(
        "POST", "/api/v1/deliveries/", body=_upload(served_world, _extract(2)), headers=key
    )

    assert first.status == 201
    assert other.status == 422
    assert other.content_type == PROBLEM
    problem = other.json()
    assert problem["code"] == "idempotency_key_reused"
    assert problem["type"] == "urn:flisportal:problem:idempotency_key_reused"
    assert "only-once" in problem["detail"]
    assert Delivery.objects.filter(route=served_world.route).count() == 1


def test_status_report_and_file_of_an_uploaded_delivery(
    api_server: ApiServer, served_world: ApiWorld
) -> None:
    """Rule: the delivery made through the API is read back through it: status with its
    timeline, the report as JSON and as the CSV export, and the file as uploaded."""
    client = Client(api_server.port, token_for(served_world.vendor_user))
    content = _extract(3)
    made = client.call("POST", "/api/v1/deliveries/", body=_upload(served_world, content))
    links = made.json()["links"]

    status = client.call("GET", made.headers["location"])
    report = client.call("GET", links["report"])
    report_csv = client.call("GET", links["report_csv"])
    stored = client.call("GET", links["file"])

    assert status.status == 200
    assert status.json()["status"] == "received"
    assert [event["new_status"] for event in status.json()["timeline"]] == ["received"]
    assert report.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert report_csv.content_type.startswith("text/csv")
    assert report_csv.body.decode("utf-8").startswith("\ufeffrække;kolonne;værdi;regel;besked")
    assert stored.body == content


def test_revoked_expired_and_missing_tokens_are_refused_with_401_problems(
    api_server: ApiServer, served_world: ApiWorld
) -> None:
    """Rule: only a usable token opens the API, and the problem says what to do."""
    client = Client(api_server.port)
    revoked = token_for(served_world.vendor_user, name="gammel")
    ApiToken.objects.filter(name="gammel").update(revoked_at=timezone.now())
    expired = token_for(served_world.vendor_user, name="udløbet")
    ApiToken.objects.filter(name="udløbet").update(expires_at=timezone.now() - timedelta(minutes=1))

    answers = {
        "token_revoked": client.call("GET", "/api/v1/deliveries/", token=revoked),
        "token_expired": client.call("GET", "/api/v1/deliveries/", token=expired),
        "token_unknown": client.call("GET", "/api/v1/deliveries/", token=revoked + "x"),
        "not_authenticated": client.call("GET", "/api/v1/deliveries/", token=""),
    }

    for code, answer in answers.items():
        assert answer.status == 401, code
        assert answer.content_type == PROBLEM
        assert answer.json()["code"] == code
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "API-nøgler" in answers["token_expired"].json()["detail"]


def test_another_vendors_delivery_is_404_in_the_readers_language(
    api_server: ApiServer, served_world: ApiWorld
) -> None:
    """Rule: every use is scoped like the user's pages; another tenant's object is 404, not
    403, with the page's text in the language Accept-Language asks for."""
    client = Client(api_server.port, token_for(served_world.vendor_user))
    path = f"/api/v1/deliveries/{served_world.foreign.uuid}/"

    danish = client.call("GET", path)
    english = client.call("GET", path, headers={"Accept-Language": "en"})
    foreign_route = client.call(
        "POST",
        "/api/v1/deliveries/",
        body=Multipart(
            {"route": str(served_world.foreign.route_id), "period": "2026-10"}, content=_extract()
        ),
    )

    assert danish.status == 404
    assert danish.json()["detail"] == "Leverancen findes ikke, eller du har ikke adgang til den."
    assert english.status == 404
    assert english.headers["content-language"] == "en"
    assert english.json()["detail"] == (
        "The delivery does not exist, or you do not have access to it."
    )
    assert foreign_route.status == 404
    assert foreign_route.json()["code"] == "not_found"
    assert (
        not Delivery.objects.filter(route_id=served_world.foreign.route_id)
        .exclude(pk=served_world.foreign.pk)
        .exists()
    )


def test_an_oversized_body_is_413_and_stores_nothing(
    api_server: ApiServer, served_world: ApiWorld, private_media: Path
) -> None:
    """Rule: the size limit of the upload form holds (streamed, stopped at the limit), and the
    API answers it with 413."""
    client = Client(api_server.port, token_for(served_world.vendor_user))
    big = _extract() + b"x" * (SERVER_MAX_UPLOAD_BYTES + 1)

    answer = client.call("POST", "/api/v1/deliveries/", body=_upload(served_world, big))

    assert answer.status == 413
    assert answer.content_type == PROBLEM
    assert answer.json()["code"] == "file_too_large"
    assert "Filen er for stor" in answer.json()["detail"]
    assert not Delivery.objects.filter(route=served_world.route).exists()
    assert not [p for p in private_media.rglob("*") if p.is_file()]
