"""Texts that background jobs store (deliveries.messages): written in Danish exactly as before,
with a code and parameters, and shown in the reader's language; rows without a code (or with a
code no longer in the catalogue) show their stored text."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.messages import BILINGUAL, MESSAGES, render, stored_as, text
from deliveries.models import Delivery, ValidationIssue
from deliveries.services.push import delivery_push
from deliveries.services.retention import retention_run
from deliveries.sftp import SftpError, _operation_error, connect
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.django_db

S = DeliveryStatus


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def detail(client, delivery) -> str:
    response = client.get(reverse("deliveries:detail", args=[delivery.uuid]))
    assert response.status_code == 200
    return response.content.decode()


def report_rows(client, delivery) -> list[list[str]]:
    response = client.get(reverse("deliveries:report_csv", args=[delivery.uuid]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body), delimiter=";"))


# --- the catalogue ---


def test_every_text_is_translated_to_english_with_the_same_placeholders():
    with translation.override("en"):
        for code, template in MESSAGES.items():
            if code == BILINGUAL or not re.sub(r"%\(\w+\)s", "", template).strip():
                continue  # no words of its own to translate
            translated = translation.gettext(template)
            assert translated != template, code
            for name in ("value", "column", "name", "row", "limit", "period", "error"):
                assert (f"%({name})s" in template) == (f"%({name})s" in translated), code


def test_the_danish_text_is_the_template_whatever_language_is_active():
    said = text("validation.enum", allowed="a, b", value="x")
    with translation.override("en"):
        assert text("validation.required", column="x").danish == "«x» skal udfyldes."
        assert said.danish == "«x» er ikke en tilladt værdi (tilladt: a, b)."


def test_render_falls_back_to_the_stored_text():
    with translation.override("en"):
        assert render("", {}, fallback="gemt") == "gemt"
        assert render("validation.removed_long_ago", {}, fallback="gemt") == "gemt"
        # A row whose parameters no longer fit the template.
        assert render("validation.required", {}, fallback="gemt") == "gemt"
        assert render("validation.required", {"column": "x"}, fallback="gemt") == (
            "“x” must be filled in."
        )


def test_stored_as_gives_the_three_fields_of_a_text_and_clears_them_with_an_empty_one():
    said = text("validation.required", column="x")
    assert stored_as("message", said) == {
        "message": "«x» skal udfyldes.",
        "message_code": "validation.required",
        "message_params": {"column": "x"},
    }
    assert stored_as("last_error", "") == {
        "last_error": "",
        "last_error_code": "",
        "last_error_params": {},
    }


def test_a_parameter_kept_beside_fills_the_words_but_is_not_stored_again():
    # A validation issue's value has a column of its own.
    stored = stored_as("message", text("validation.enum", allowed="a, b"), beside={"value": "z"})
    assert stored["message"] == "«z» er ikke en tilladt værdi (tilladt: a, b)."
    assert stored["message_params"] == {"allowed": "a, b"}
    with translation.override("en"):
        shown = render(
            stored["message_code"], {"value": "z", **stored["message_params"]}, fallback=""
        )
    assert shown.startswith("“z” is not an allowed value")
    # A contract's own message is stored as it is.
    assert stored_as("message", "Egen tekst.", beside={"value": "z"})["message"] == "Egen tekst."


def test_a_text_code_must_be_in_the_catalogue():
    with pytest.raises(KeyError):
        text("validation.no_such_text")


# --- 1. the validation report ---


@pytest.fixture
def rejected(make_delivery, upload_route, vendor_a_user):
    rows = [dagtilbud_row(1, pladstype=""), dagtilbud_row(2, pasningstilbud="hoppeborg")]
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(*rows), period="2026-10")
    assert validate_delivery(delivery.pk) == S.REJECTED
    delivery.refresh_from_db()
    return delivery


def test_report_messages_are_stored_in_danish_with_code_and_parameters(rejected):
    issues = {i.rule: i for i in rejected.issues.all()}
    required, enum = issues["required"], issues["enum"]
    assert required.message == "«pladstype» skal udfyldes."
    assert (required.message_code, required.message_params) == (
        "validation.required",
        {"column": "pladstype"},
    )
    assert enum.message.startswith("«hoppeborg» er ikke en tilladt værdi (tilladt: ")
    assert enum.message_code == "validation.enum"
    # The value is the issue's own column, not repeated in the parameters of 1,000 rows.
    assert "value" not in enum.message_params and enum.value == "hoppeborg"


def test_report_is_danish_by_default_and_english_with_the_cookie(client, rejected, vendor_a_user):
    client.force_login(vendor_a_user)
    danish = detail(client, rejected)
    assert "«pladstype» skal udfyldes." in danish
    assert "«hoppeborg» er ikke en tilladt værdi" in danish
    assert "must be filled in" not in danish
    assert report_rows(client, rejected)[1][5] == "«pladstype» skal udfyldes."

    english(client)
    page = detail(client, rejected)
    assert "“pladstype” must be filled in." in page
    assert "“hoppeborg” is not an allowed value (allowed: " in page
    assert "skal udfyldes" not in page
    assert "er ikke en tilladt værdi" not in page
    rows = report_rows(client, rejected)
    assert rows[0][4:] == ["description", "message"]
    assert rows[1][4] == "Must be filled in."
    assert rows[1][5] == "“pladstype” must be filled in."
    # Shown in English, still stored in Danish.
    assert rejected.issues.get(rule="required").message == "«pladstype» skal udfyldes."


def test_a_file_problem_is_shown_in_english(client, make_delivery, upload_route, vendor_a_user):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv().encode("utf-16"))
    assert validate_delivery(delivery.pk) == S.REJECTED
    issue = delivery.issues.get()
    assert issue.message == (
        "Filen er gemt som UTF-16. Gem den som CSV i UTF-8 (eller Windows-1252) og upload igen."
    )
    english(client).force_login(vendor_a_user)
    page = detail(client, delivery)
    assert "<td>The file is saved as UTF-16. Save it as CSV in UTF-8" in page
    # The timeline's "rejected" event quotes the same problem, in English too.
    assert "Rejected: The file is saved as UTF-16." in page
    assert "Filen er gemt som UTF-16" not in page
    event = delivery.events.get(new_status=S.REJECTED)
    assert event.message == f"Afvist: {issue.message}"


def test_a_delimiter_name_is_translated_inside_the_message(
    client, make_delivery, upload_route, vendor_a_user
):
    content = dagtilbud_csv(dagtilbud_row(1)).replace(";", ",")
    delivery = make_delivery(upload_route, vendor_a_user, content)
    assert validate_delivery(delivery.pk) == S.REJECTED
    issue = delivery.issues.get()
    assert issue.message.startswith(
        "Filen bruger komma (,) som skilletegn, men kontrakten kræver semikolon (;)."
    )
    english(client).force_login(vendor_a_user)
    assert (
        "The file uses comma (,) as its delimiter, but the contract requires semicolon (;)."
        in detail(client, delivery)
    )


def test_an_old_issue_without_a_code_shows_its_stored_text(client, rejected, vendor_a_user):
    ValidationIssue.objects.filter(delivery=rejected, rule="required").update(
        message_code="", message_params={}, message="Gammel besked om pladstype."
    )
    ValidationIssue.objects.filter(delivery=rejected, rule="enum").update(
        message_code="validation.removed", message="Besked med en kode, der er fjernet."
    )
    english(client).force_login(vendor_a_user)
    page = detail(client, rejected)
    assert "Gammel besked om pladstype." in page
    assert "Besked med en kode, der er fjernet." in page
    assert [row[5] for row in report_rows(client, rejected)[1:]] == [
        "Gammel besked om pladstype.",
        "Besked med en kode, der er fjernet.",
    ]


def test_retention_removes_the_value_from_the_parameters_too(client, rejected, vendor_a_user):
    retention_run(now=timezone.now() + timedelta(days=settings.RETENTION_REJECTED_DAYS + 1))
    issue = rejected.issues.get(rule="enum")
    assert issue.value == ""
    assert "hoppeborg" not in str(issue.message_params) + issue.message
    english(client).force_login(vendor_a_user)
    page = detail(client, rejected)
    assert "hoppeborg" not in page
    assert "“…” is not an allowed value" in page


# --- 2. the timeline's events and the last SFTP error ---


def test_events_are_stored_in_danish_with_code_and_parameters(rejected):
    events = list(rejected.events.all())
    assert [e.message for e in events] == [
        "Uploadet som «udtraek-1.csv».",
        "Validering startet.",
        f"Afvist efter kontrakt {rejected.contract.version}: 2 fejl i 2 rækker.",
    ]
    assert [e.message_code for e in events] == [
        "event.uploaded",
        "event.validation_started",
        "event.rejected",
    ]
    assert events[2].message_params == {
        "version": rejected.contract.version,
        "errors": 2,
        "rows": 2,
    }


def test_timeline_is_danish_by_default_and_english_with_the_cookie(client, rejected, vendor_a_user):
    client.force_login(vendor_a_user)
    danish = detail(client, rejected)
    assert "Uploadet som «udtraek-1.csv»." in danish
    assert "Validering startet." in danish
    assert "Validation started." not in danish

    english(client)
    page = detail(client, rejected)
    assert "Uploaded as “udtraek-1.csv”." in page
    assert "Validation started." in page
    assert f"Rejected under contract {rejected.contract.version}: 2 errors in 2 rows." in page
    for danish_text in ("Uploadet som", "Validering startet.", "Afvist efter kontrakt"):
        assert danish_text not in page


def test_an_old_event_without_a_code_shows_its_stored_text(client, rejected, vendor_a_user):
    rejected.events.filter(message_code="event.validation_started").update(
        message_code="", message_params={}, message="Validering startet (gammel række)."
    )
    english(client).force_login(vendor_a_user)
    page = detail(client, rejected)
    assert "Validering startet (gammel række)." in page
    assert "Validation started." not in page


@pytest.fixture
def push_failed(make_delivery, upload_route, vendor_a_user):
    """Valid, then pushed without an SFTP user for its it-system: a permanent SFTP error."""
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=2))
    assert validate_delivery(delivery.pk) == S.VALID
    assert delivery_push(delivery_id=delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    return delivery


def test_the_last_sftp_error_is_stored_in_danish_and_shown_in_english(
    client, push_failed, vendor_a_user
):
    system, endpoint = push_failed.it_system, push_failed.endpoint
    danish_error = (
        f"It-systemet {system} har ingen SFTP-bruger på miljøet {endpoint}. En administrator "
        "skal oprette SFTP-brugeren og dens nøgle (Admin → SFTP-brugere) og derefter trykke "
        "«Prøv igen»."
    )
    assert push_failed.last_error == danish_error
    assert push_failed.last_error_code == "push.no_sftp_user"
    event = push_failed.events.last()
    assert event.message == (
        f"Afsendelsen mislykkedes og prøves ikke igen af sig selv: {danish_error} Når fejlen er "
        "rettet, kan uploaderen eller en administrator trykke «Prøv igen»."
    )

    client.force_login(vendor_a_user)
    assert danish_error in detail(client, push_failed)

    english(client)
    page = detail(client, push_failed)
    english_error = (
        f"The IT system {system} has no SFTP user in the environment {endpoint}. An "
        "administrator must create the SFTP user and its key (Admin → SFTP users) and then "
        "press “Try again”."
    )
    # The banner, and the event that quotes the same error.
    assert page.count(english_error) == 2
    assert "Sending failed and will not be tried again by itself: The IT system" in page
    assert "har ingen SFTP-bruger" not in page


def test_an_old_last_error_without_a_code_shows_its_stored_text(client, push_failed, vendor_a_user):
    Delivery.objects.filter(pk=push_failed.pk).update(
        last_error="Forbindelsen blev afvist (gammel række).", last_error_code=""
    )
    english(client).force_login(vendor_a_user)
    page = detail(client, push_failed)
    assert "Forbindelsen blev afvist (gammel række)." in page


def test_no_last_error_shows_the_pointer_to_the_timeline(client, push_failed, vendor_a_user):
    Delivery.objects.filter(pk=push_failed.pk).update(last_error="")
    english(client).force_login(vendor_a_user)
    assert "See the history for the reason." in detail(client, push_failed)


def test_sftp_errors_carry_their_code_and_nest_the_action():
    error = _operation_error(
        TimeoutError(),
        action=text("word.sftp.stat", path="IN/a.csv"),
        path="IN/a.csv",
        where="h:22",
    )
    assert error.message == (
        "Serveren h:22 svarede ikke under opslaget af IN/a.csv inden for tidsgrænsen. Portalen "
        "prøver igen senere."
    )
    assert error.said is not None
    with translation.override("en"):
        assert render(error.said.code, error.said.params, fallback="") == (
            "The server h:22 did not answer during the lookup of IN/a.csv within the time "
            "limit. The portal will try again later."
        )
    with pytest.raises(SftpError) as raised:
        with connect(
            host="127.0.0.1", port=1, username="u", private_key=b"", pinned_host_key="nonsense"
        ):
            pass
    assert raised.value.said is not None
    assert raised.value.said.code == "sftp.pinned_key_unreadable"
    assert raised.value.permanent
