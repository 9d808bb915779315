"""Rules in words (deliveries.rules.describe_rule): what each rule asks, said for a person who
does not read regular expressions, and the same words on the contract page, the delivery page,
the report CSV and the rejection mail."""

from __future__ import annotations

import csv
import io

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from deliveries.datacontracts import CONTRACTS_DIR, read_contract
from deliveries.jobs import validate_delivery
from deliveries.messages import render
from deliveries.rules import column_rules, describe_pattern, describe_rule
from deliveries.validation import validate_file
from flisportal.notifications.models import OutgoingMail
from flisportal.notifications.services import mail_send
from tests.factories import dagtilbud_csv, dagtilbud_row

DAGTILBUD = read_contract(CONTRACTS_DIR / "dagtilbud.json")
PERSONALE = read_contract(CONTRACTS_DIR / "personale.json")
VOKSNE = read_contract(CONTRACTS_DIR / "voksne_handicappede.json")


def contract(*fields: dict, rules: list | None = None, **portal: object) -> dict:
    return {
        "dialect": {"delimiter": ";", "decimalChar": ","},
        "schema": {"fields": list(fields)},
        "portal": {**portal, "rules": rules or []},
    }


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"\d{7}", "7 cifre, fx 1234567."),
        (r"\d{1,10}", "1–10 cifre, fx 1."),
        (r"\d{4}/\d{2}", "Formen: 4 cifre, «/», 2 cifre, fx 1234/12."),
        (r"\d\.\d{2}\.\d{2}", "Formen: 1 ciffer, «.», 2 cifre, «.», 2 cifre, fx 1.12.12."),
        (r"1(\.\d){2,4}", "Formen: «1», («.», 1 ciffer) gentaget 2–4 gange, fx 1.1.1."),
        (r"[A-Z]{2}\d{4}", "Formen: 2 tegn blandt A-Z, 4 cifre, fx AA1234."),
        (r"(ja|nej)", "Formen: et af: «ja», «nej», fx ja."),
    ],
)
def test_patterns_are_said_in_words_with_an_example(pattern, words):
    assert describe_pattern(pattern) == words


def test_a_pattern_the_reader_cannot_say_is_still_described():
    # A new contract's unusual pattern must not break the page: it is shown as what it is.
    assert describe_pattern(r"\w+@\w+") == "Skal have formen \\w+@\\w+ (et regulært udtryk)."


def test_the_period_column_says_its_format_plainly():
    # Rule: where the file's period (ÅÅÅÅMM) differs from what a person types (ÅÅÅÅ-MM), the
    # description says so, for the pattern and for the period rule alike.
    for rule in ("pattern", "periode"):
        words = describe_rule(DAGTILBUD, column="periode", rule=rule)
        assert "år og måned uden bindestreg, fx 202611" in words
        assert "ikke 2026-11" in words


@pytest.mark.parametrize(
    ("spec", "rule", "words"),
    [
        ({"name": "x", "constraints": {"maxLength": 50}}, "maxLength", "Tekst, højst 50 tegn."),
        ({"name": "x", "constraints": {"minLength": 6}}, "minLength", "Mindst 6 tegn."),
        ({"name": "x", "constraints": {"enum": ["A", "B", "C"]}}, "enum", "Et af: A, B, C."),
        ({"name": "x", "type": "date"}, "type", "Dato som ÅÅÅÅ-MM-DD, fx 2026-11-30."),
        (
            {"name": "x", "type": "date"},
            "date",
            "Datoen skal findes i kalenderen (fx ikke 2023-02-30).",
        ),
        (
            {"name": "x", "type": "integer"},
            "type",
            "Heltal uden decimaler og tusindtalsseparator, fx 12.",
        ),
        (
            {"name": "x", "type": "number", "constraints": {"minimum": 0.01}},
            "minimum",
            "Mindst 0,01.",
        ),
        (
            {"name": "x", "type": "date", "constraints": {"maximum": "2030-12-31"}},
            "maximum",
            "Senest 2030-12-31.",
        ),
        ({"name": "x", "constraints": {"required": True}}, "required", "Skal udfyldes."),
    ],
)
def test_column_rules_in_words(spec, rule, words):
    assert describe_rule(contract(spec), column="x", rule=rule) == words


def test_rules_between_columns_in_words():
    assert describe_rule(PERSONALE, column="overenskomstkode", rule="equals_prefix") == (
        "«overenskomstkode» skal være de første 3 tegn af «stillingskode»."
    )
    assert describe_rule(PERSONALE, column="aktive_dage", rule="sum_lte").startswith(
        "Summen af «dage_egen_sygdom», «dage_barns_sygdom»"
    )
    assert describe_rule(VOKSNE, column="tilbudstype", rule="required_if") == (
        "«tilbudstype» skal udfyldes, når «paragraf» er et af: 107, 108."
    )
    assert describe_rule(VOKSNE, column="afgoerelsesdato", rule="lte") == (
        "«afgoerelsesdato» må ikke ligge efter «startdato», når begge er udfyldt."
    )


def test_file_rules_and_unknown_rules_are_described_without_a_contract():
    assert "UTF-8" in describe_rule({}, column="", rule="encoding")
    assert describe_rule({}, column="x", rule="nyregel") == "Reglen «nyregel» for kolonnen «x»."


def test_descriptions_follow_the_readers_language():
    with translation.override("en"):
        assert describe_rule(DAGTILBUD, column="pladstype", rule="enum") == (
            "One of: fuldtid, deltid."
        )
        assert "year and month without a hyphen, e.g. 202611" in describe_rule(
            DAGTILBUD, column="periode", rule="pattern"
        )
        assert describe_pattern(r"\d{7}") == "7 digits, e.g. 1234567."


# --- the report ------------------------------------------------------------------------------


@pytest.fixture
def rejected(db, make_delivery, upload_route, vendor_a_user):
    vendor_a_user.email = "uploader@leverandoer-a.dk"  # the rejection mail goes here
    vendor_a_user.save()
    rows = [dagtilbud_row(1, pladstype="halv"), dagtilbud_row(2, periode="2026-10")]
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(*rows), period="2026-10")
    validate_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_report_csv_has_the_rule_code_and_its_description(client, rejected, vendor_a_user):
    # Rule: the code stays for machines, the words are added for people.
    client.force_login(vendor_a_user)
    response = client.get(reverse("deliveries:report_csv", args=[rejected.uuid]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["række", "kolonne", "værdi", "regel", "beskrivelse", "besked"]
    by_rule = {row[3]: row[4] for row in rows[1:]}
    assert by_rule["enum"] == "Et af: fuldtid, deltid."
    assert "år og måned uden bindestreg" in by_rule["pattern"]
    assert all("\\d" not in row[4] for row in rows[1:])


def test_delivery_page_shows_the_words_with_the_code_small(client, rejected, vendor_a_user):
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:detail", args=[rejected.uuid])).content.decode()
    assert (
        'Et af: fuldtid, deltid. <span class="d-block"><code class="small text-muted">enum</code>'
        in page
    )
    # The summary per rule says it in words too.
    assert 'Et af: fuldtid, deltid.</a> <code class="small text-muted">enum</code>' in page
    # Each code links to its entry on the help page (the summary's row and the listed errors').
    assert page.count('href="/hjaelp/#regel-enum"') >= 2


def test_contract_page_and_report_use_the_same_words(client, rejected, vendor_a_user):
    # Rule: one function describes a rule, so the page read before sending and the report
    # read afterwards never disagree.
    client.force_login(vendor_a_user)
    response = client.get(reverse("deliveries:report_csv", args=[rejected.uuid]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    reported = {(row[1], row[3]): row[4] for row in csv.reader(io.StringIO(text), delimiter=";")}
    on_page = {
        (column.name, code): words
        for column in column_rules(rejected.contract.document)
        for code, words in column.rules
    }
    assert reported[("pladstype", "enum")] == on_page[("pladstype", "enum")]
    assert reported[("periode", "pattern")] == on_page[("periode", "pattern")]


def test_rejection_mail_describes_the_rule_without_the_cell_value(rejected):
    # Rule: a mail says which rule in words, never what the cell held (the value is "2026-10"
    # here; the words name the format with a made-up example).
    for pk in OutgoingMail.objects.values_list("pk", flat=True):
        mail_send(mail_id=pk)
    [message] = mail.outbox
    assert "række 2, pladstype: Et af: fuldtid, deltid. (regel enum)" in message.body
    assert "række 3, periode: 6 cifre: år og måned uden bindestreg" in message.body
    assert "halv" not in message.body
    assert "2026-10," not in message.body and "«2026-10»" not in message.body
    html, _mimetype = message.alternatives[0]
    assert "Et af: fuldtid, deltid. <small>(regel <code>enum</code>)</small>" in html


def test_a_pattern_error_says_the_format_in_words_in_both_languages(tmp_path):
    # Rule: the error message names the format as the contract page does, not as a regular
    # expression; stored once by the worker, shown in the reader's language.
    path = tmp_path / "extract.csv"
    path.write_text(dagtilbud_csv(dagtilbud_row(cpr_barn="01014550")), encoding="utf-8")
    report = validate_file(path, DAGTILBUD, kommune_code="101", period="2026-10")
    [issue] = [i for i in report.issues if i.rule == "pattern"]
    assert issue.message == "«01014550» har ikke det krævede format: 10 cifre, fx 1234567890."
    params = {**issue.params, "value": issue.value}
    with translation.override("en"):
        english = render(issue.code, params, fallback=issue.message)
    assert english == "“01014550” does not have the required format: 10 digits, e.g. 1234567890."
