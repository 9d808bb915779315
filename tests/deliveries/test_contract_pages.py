"""The contract pages: an index of the areas, a page per area and version with every rule in
words, a template CSV that passes its own contract, and a version history computed from the
documents. Every logged-in role may read them (the access matrix pins the roles)."""

from __future__ import annotations

import copy
import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deliveries.contract_guide import contract_changes, template_csv
from deliveries.datacontracts import CONTRACTS_DIR, read_contract, shipped_contract_paths
from deliveries.models import DataContract
from deliveries.services.contracts import contract_load
from deliveries.validation import validate_file

pytestmark = pytest.mark.django_db

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
DAGTILBUD = read_contract(CONTRACTS_DIR / "dagtilbud.json")


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def contract_url(area: str, version: str, name: str = "deliveries:contract") -> str:
    return reverse(name, kwargs={"area_code": area, "version": version})


@pytest.mark.parametrize("path", shipped_contract_paths(), ids=lambda p: p.stem)
@pytest.mark.parametrize("period", ["2026-11", "2028-02"])
def test_every_shipped_template_passes_its_own_contract(tmp_path: Path, path: Path, period):
    # Rule: the template a vendor downloads is a file the portal accepts, for every area and
    # version shipped (and a February, where the example dates must still be real).
    contract = read_contract(path)
    extract = tmp_path / "skabelon.csv"
    extract.write_bytes(template_csv(contract, kommune_code="751", period=period))
    report = validate_file(extract, contract, kommune_code="751", period=period)
    assert [(i.row, i.column, i.rule, i.message) for i in report.issues] == []
    assert report.is_valid and report.rows_checked == 1


def test_every_loaded_version_has_a_passing_template(tmp_path: Path):
    # The same for each version in the database (a loaded version may differ from the files).
    for contract in DataContract.objects.all():
        extract = tmp_path / f"{contract.pk}.csv"
        extract.write_bytes(template_csv(contract.document, kommune_code="101", period="2026-11"))
        report = validate_file(extract, contract.document, kommune_code="101", period="2026-11")
        assert report.is_valid, (contract, [i.message for i in report.issues])


def test_index_lists_every_area_with_its_active_version(client, consultant_user):
    client.force_login(consultant_user)
    page = client.get(reverse("deliveries:contracts")).content.decode()
    active = DataContract.objects.active().select_related("data_area")
    assert active.count() == 5
    for contract in active:
        assert contract_url(contract.data_area.code, contract.version) in page
        assert (
            contract_url(contract.data_area.code, contract.version, "deliveries:contract_template")
            in page
        )
        assert contract.data_area.name in page


def test_contract_page_says_the_rules_in_words_not_patterns(client, vendor_a_user):
    # Rule: a person who does not read regular expressions can read the page; the code of
    # each rule stays beside its words.
    client.force_login(vendor_a_user)
    page = client.get(contract_url("dagtilbud", DAGTILBUD["version"])).content.decode()
    assert "år og måned uden bindestreg, fx 202611" in page
    assert "Et af: fuldtid, deltid." in page
    assert "Dato som ÅÅÅÅ-MM-DD" in page
    assert "10 cifre" in page
    assert "Tal med decimalkomma" in page
    assert "«slutdato» må ikke ligge før «startdato», når begge er udfyldt." in page
    assert "Kombinationen af cpr_barn + anvisningsenhedsnummer må kun stå i én række" in page
    assert "(0[1-9]|1[0-2])" not in page and "\\d{" not in page
    assert '<code class="small text-muted">pattern</code>' in page


def test_contract_page_of_an_unknown_version_is_404(client, vendor_a_user):
    client.force_login(vendor_a_user)
    assert client.get(contract_url("dagtilbud", "9.9")).status_code == 404
    assert client.get(contract_url("ukendt", DAGTILBUD["version"])).status_code == 404
    template = contract_url("dagtilbud", "9.9", "deliveries:contract_template")
    assert client.get(template).status_code == 404


@pytest.mark.parametrize("name", ["deliveries:contract", "deliveries:contract_template"])
def test_contract_pages_refuse_post(client, vendor_a_user, name):
    client.force_login(vendor_a_user)
    assert client.post(contract_url("dagtilbud", DAGTILBUD["version"], name)).status_code == 405


@time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=COPENHAGEN), tick=False)
def test_template_download_is_in_the_contracts_dialect_for_last_month(client, consultant_user):
    # The example row is for the month a vendor delivers now: December's template is November.
    client.force_login(consultant_user)
    url = contract_url("dagtilbud", DAGTILBUD["version"], "deliveries:contract_template")
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "skabelon-dagtilbud-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8")), delimiter=";"))
    assert rows[0] == [f["name"] for f in DAGTILBUD["schema"]["fields"]]
    example = dict(zip(rows[0], rows[1], strict=True))
    assert example["periode"] == "202611"
    assert example["startdato"] == "2026-11-01"
    assert example["timer_pr_uge"] == "0,01"  # the contract's decimal comma


def test_template_is_written_in_the_contracts_first_encoding():
    contract = copy.deepcopy(DAGTILBUD)
    contract["dialect"]["encodings"] = ["cp1252", "utf-8"]
    contract["schema"]["fields"][5]["constraints"]["enum"] = ["børnehave"]
    data = template_csv(contract, kommune_code="101", period="2026-11")
    assert "børnehave".encode("cp1252") in data
    assert "børnehave".encode() not in data


def _next_version() -> dict:
    """Dagtilbud with one column added, one removed, a rule changed and a cross rule added."""
    document = copy.deepcopy(DAGTILBUD)
    document["version"] = "2027.1-illustrativ"
    fields = [f for f in document["schema"]["fields"] if f["name"] != "friplads"]
    for spec in fields:
        if spec["name"] == "daginstitutionsnummer":
            spec["constraints"]["maxLength"] = 8
    fields.append({"name": "bemaerkning", "type": "string", "constraints": {"maxLength": 50}})
    document["schema"]["fields"] = fields
    document["portal"]["rules"].append(
        {
            "rule": "required_if",
            "field": "slutdato",
            "when": {"field": "pladstype", "in": ["deltid"]},
        }
    )
    return document


def test_version_history_says_what_changed_computed_from_the_documents(client, consultant_user):
    # Rule: the history is computed by comparing versions, not written by hand.
    contract_load(document=_next_version(), user=None)
    client.force_login(consultant_user)
    page = client.get(contract_url("dagtilbud", "2027.1-illustrativ")).content.decode()
    assert "Ny kolonne «bemaerkning»." in page
    assert "Kolonnen «friplads» er fjernet." in page
    assert "«daginstitutionsnummer»: «Tekst, højst 6 tegn.» er nu «Tekst, højst 8 tegn.»" in page
    assert "Ny regel: «slutdato» skal udfyldes, når «pladstype» er et af: deltid." in page
    # The old version is still readable, and linked from the new one's history.
    assert contract_url("dagtilbud", DAGTILBUD["version"]) in page
    old = client.get(contract_url("dagtilbud", DAGTILBUD["version"])).content.decode()
    assert "Ikke den gældende version" in old


def test_changes_between_equal_versions_are_none():
    assert contract_changes(DAGTILBUD, copy.deepcopy(DAGTILBUD)) == []


def test_changes_name_primary_key_and_dialect():
    newer = copy.deepcopy(DAGTILBUD)
    newer["schema"]["primaryKey"] = ["cpr_barn"]
    newer["dialect"]["delimiter"] = "|"
    changes = contract_changes(DAGTILBUD, newer)
    assert "Primærnøglen er ændret fra cpr_barn + anvisningsenhedsnummer til cpr_barn." in changes
    assert "Skilletegnet er ændret fra «;» til «|»." in changes


def test_upload_page_links_each_area_to_its_contract_page(client, vendor_a_user):
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:upload")).content.decode()
    for contract in DataContract.objects.active().select_related("data_area"):
        assert contract_url(contract.data_area.code, contract.version) in page


def test_template_fits_rules_between_columns(tmp_path: Path):
    # The example of one column alone may break a rule between columns: equals_prefix wants
    # "kode3" to be the start of "kode7", whatever each column's own example is.
    contract = {
        "dialect": {"delimiter": ";", "decimalChar": ",", "encodings": ["utf-8"]},
        "schema": {
            "fields": [
                {"name": "kode7", "constraints": {"required": True, "enum": ["9876543"]}},
                {"name": "kode3", "constraints": {"required": True, "pattern": r"\d{3}"}},
            ]
        },
        "portal": {
            "rules": [{"rule": "equals_prefix", "field": "kode3", "of": "kode7", "length": 3}]
        },
    }
    extract = tmp_path / "skabelon.csv"
    extract.write_bytes(template_csv(contract, kommune_code="101", period="2026-11"))
    assert extract.read_text().splitlines()[1] == "9876543;987"
    assert validate_file(extract, contract, kommune_code="101", period="2026-11").is_valid


def test_query_counts_do_not_grow_with_versions(client, vendor_a_user):
    # The index reads the active versions in one query and the page all versions in one:
    # loading more versions adds rows, not queries.
    client.force_login(vendor_a_user)
    urls = [reverse("deliveries:contracts"), contract_url("dagtilbud", DAGTILBUD["version"])]
    client.get(urls[0])  # warm the session
    before = [count_queries(client, url) for url in urls]
    for n in range(3):
        document = _next_version()
        document["version"] = f"2027.{n}-illustrativ"
        contract_load(document=document, user=None, activate=False)
    assert [count_queries(client, url) for url in urls] == before


def test_contract_page_is_english_with_the_language_cookie(client, vendor_a_user, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(vendor_a_user)
    page = client.get(contract_url("dagtilbud", DAGTILBUD["version"])).content.decode()
    assert "Contract for Dagtilbud, version" in page
    assert "One of: fuldtid, deltid." in page
    assert "year and month without a hyphen, e.g. 202611" in page
    assert "Et af:" not in page and "Skal udfyldes" not in page
