"""Contracts: the shipped illustrative ones are loaded by migration and valid; a new version
is checked before it is accepted."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries.datacontracts import (
    ILLUSTRATIVE_NOTICE,
    contract_problems,
    read_contract,
    shipped_contract_paths,
)
from deliveries.models import DataContract
from deliveries.services.contracts import contract_load
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_area_has_an_active_illustrative_contract():
    contracts = DataContract.objects.active().select_related("data_area")
    assert sorted(c.data_area.code for c in contracts) == [
        "dagtilbud",
        "oekonomi",
        "personale",
        "skole",
        "voksne_handicappede",
    ]
    for contract in contracts:
        assert contract.is_illustrative
        assert contract.document["notice"] == ILLUSTRATIVE_NOTICE


@pytest.mark.parametrize("path", shipped_contract_paths(), ids=lambda p: p.stem)
def test_shipped_contracts_are_valid(path):
    assert contract_problems(read_contract(path)) == []


def _document() -> dict:
    return read_contract(shipped_contract_paths()[0])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("schema"), "«schema» mangler"),
        (lambda d: d["schema"]["fields"][0].update(type="geopoint"), "typen «geopoint»"),
        (lambda d: d["schema"]["fields"][0]["constraints"].update(pattern="("), "regulært udtryk"),
        (lambda d: d["portal"]["rules"].append({"rule": "magic"}), "ukendt"),
        (
            lambda d: d["portal"]["rules"].append(
                {"rule": "gte", "field": "nope", "other": "periode"}
            ),
            "ukendte kolonne «nope»",
        ),
        (lambda d: d["dialect"].update(delimiter=";;"), "ét tegn"),
        (lambda d: d.update(notice="x"), "notice"),
    ],
)
def test_broken_documents_are_refused(change, expected):
    document = _document()
    change(document)
    problems = contract_problems(document)
    assert any(expected in p for p in problems), problems


def test_loading_a_version_twice_is_refused(admin_user):
    document = _document()
    with pytest.raises(ValidationError, match="allerede indlæst"):
        contract_load(document=document, user=admin_user)


def test_admin_loads_a_new_version_after_checking_it(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:deliveries_contract_load")
    assert client.get(url).status_code == 200
    document = {**_document(), "version": "2099.1"}
    upload = SimpleUploadedFile("k.json", json.dumps(document).encode(), "application/json")
    response = client.post(url, {"document": upload, "activate": "on"})
    assert response.status_code == 302
    contract = DataContract.objects.get(version="2099.1")
    assert contract.is_active and contract.loaded_by == admin_user
    assert DataContract.objects.active().filter(data_area=contract.data_area).count() == 1

    broken = {**document, "version": "2099.2", "dialect": {"delimiter": ""}}
    upload = SimpleUploadedFile("k.json", json.dumps(broken).encode(), "application/json")
    response = client.post(url, {"document": upload, "activate": "on"})
    assert response.status_code == 200
    assert "ét tegn" in response.content.decode()
    assert not DataContract.objects.filter(version="2099.2").exists()


def test_admin_is_told_when_a_version_will_be_checked_without_the_row_screen(client, admin_user):
    """A pattern the row screen does not compile (\\w reads differently in Python's and
    polars' engines) leaves the version to the exact checks: the same result, slower, and
    the administrator is told so; a shipped version gets no such warning."""
    client.force_login(admin_user)
    url = reverse("admin:deliveries_contract_load")
    screened = {**_document(), "version": "2099.3"}
    unscreened = factories.contract_the_screen_declines("2099.4")
    for document, warned in ((screened, False), (unscreened, True)):
        upload = SimpleUploadedFile("k.json", json.dumps(document).encode(), "application/json")
        response = client.post(url, {"document": upload}, follow=True)
        assert response.status_code == 200
        page = response.content.decode()
        assert ("uden rækkefilteret" in page) is warned, document["version"]
        assert DataContract.objects.filter(version=document["version"]).exists()
