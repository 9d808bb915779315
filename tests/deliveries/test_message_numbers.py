"""Amounts in the texts background jobs store (deliveries.messages) have a thousands separator:
in Danish in the stored text, in the reader's language on a page. Names for things that happen to
be numbers (periods, codes, versions, row numbers) never get one, and the parameters stay plain
numbers, so rows stored before read the same way."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.formats import reset_format_cache

from deliveries.messages import MESSAGES, QUANTITIES, render, stored_as, text
from tests.factories import dagtilbud_csv

SENT = {
    "endpoint": "test",
    "wire_name": "FLIS_DAGTILBUD_0101_202610.csv",
    "size": 344149,
    "infref": "INF-1234",
}

# Every placeholder in the catalogue that is not an amount, and why. A new placeholder must be
# added here or to deliveries.messages.QUANTITIES (test_every_placeholder_is_decided).
NOT_QUANTITIES = {
    # names for things: a separator would make them read as amounts, or unsearchable
    "byte": "one byte in hex (0xC3)",
    "code": "the Serviceplatform's error code",
    "first": "a row number to look up in the file, or a nested text (fetch.and)",
    "fingerprint": "an SSH key's fingerprint",
    "infref": "KOMBIT's InfRef",
    "kommune": "a kommune code (0101)",
    "key": "a primary key's values, or a host key",
    "lines": "line numbers, written as text by the validator",
    "period": "a period as in the file (202610)",
    "replaces": "the delivery a correction replaces",
    "row": "a row number to look up in the file",
    "status": "a route's status",
    "uuid": "a FileTransferUUID",
    "version": "a data contract's version",
    "where": "an endpoint's host and port, as text",
    # words, names, paths, times and nested texts
    **dict.fromkeys(
        """action allowed area column da described description endpoint error fetched field
        found guess host meaning meant name new of other path pattern problem recipient
        recipient_authority remote required route seconds sender sender_authority since source
        system target then uploaded user username value values vendor when wire_name
        work""".split(),
        "words, a name, a path, a time or a nested text",
    ),
    "n": "seconds() writes it as text (a timeout may be a fraction of a second)",
}

# A placeholder right before one of these words counts something.
UNITS = ("bytes", "rækker", "fejl", "felter", "tegn", "forsøg", "minutter", "tomme linjer")


def placeholders(template: str) -> list[str]:
    return re.findall(r"%\((\w+)\)s", template)


@pytest.fixture
def stock_formats(settings):
    """Django's own formats instead of the portal's (flisportal/formats, which give English the
    Danish separator): English then groups with a comma, so a test can tell the reader's
    language from Danish."""
    settings.FORMAT_MODULE_PATH = None
    reset_format_cache()
    yield
    reset_format_cache()


# --- the catalogue ---


def test_every_placeholder_is_decided():
    """Rule: a new placeholder is either an amount or not, decided, never forgotten."""
    used = {name for template in MESSAGES.values() for name in placeholders(template)}
    undecided = used - QUANTITIES - NOT_QUANTITIES.keys()
    assert not undecided, (
        f"{sorted(undecided)}: add to deliveries.messages.QUANTITIES if it is an amount (bytes, "
        "rows, a count, a limit), else to NOT_QUANTITIES here with the reason"
    )
    assert not QUANTITIES & NOT_QUANTITIES.keys()
    assert not (QUANTITIES | NOT_QUANTITIES.keys()) - used, "a name no template uses any more"


def test_a_placeholder_that_counts_something_is_a_quantity():
    """Rule: «%(x)s bytes», «%(x)s rækker», … is an amount, whatever list it was put on."""
    for code, template in MESSAGES.items():
        for name in re.findall(r"%\((\w+)\)s (?:" + "|".join(UNITS) + ")", template):
            assert name in QUANTITIES, f"{code}: %({name})s counts something"


# --- the stored Danish text ---


def test_the_stored_danish_text_groups_a_byte_count_whatever_language_is_active():
    """Rule: stored Danish text reads «344.149 bytes», even if the worker runs in English."""
    with translation.override("en"):
        fields = stored_as("message", text("event.sent", **SENT))
    assert "(344.149 bytes)" in fields["message"]
    assert fields["message"].startswith("Sendt til test")
    assert fields["message_params"]["size"] == 344149  # stored as the plain number


def test_the_stored_danish_text_is_danish_under_an_english_format(stock_formats):
    """Rule: the stored text takes the Danish separator, not the active language's."""
    with translation.override("en"):
        danish = text("fetch.size", size=2500000, declared=2499999).danish
    assert danish == ("Filen er 2.500.000 bytes, men metadatafilen siger 2.499.999 (SizeInBytes).")


def test_identifiers_get_no_separator_in_the_stored_text():
    """Rule: periods, codes, versions and row numbers are names, not amounts."""
    said = [
        text("validation.period", period=202610, value="202611").danish,
        text("word.receipt_error", code=1001, meaning="x", description="y").danish,
        text("event.uploaded_correction", name="a.csv", replaces=12345).danish,
        text("event.valid", version=2026, rows=12000).danish,
        text("validation.too_many_fields", row=12345, fields=9, width=8).danish,
    ]
    assert "202610 (ÅÅÅÅMM)" in said[0]
    assert said[1].startswith("fejl 1001 –")
    assert "leverance 12345" in said[2]
    assert said[3] == "Godkendt efter kontrakt 2026: 12.000 rækker."
    assert said[4].startswith("Række 12345 har 9 felter")


def test_text_values_named_like_amounts_are_left_alone():
    """Rule: only whole numbers are grouped: a contract's limit as it wrote it, a time."""
    assert "mindst 10000." in text("validation.minimum", value="5", limit="10000").danish
    overdue = text("event.receipt_overdue", minutes=1440, sent="05.12.2026 09:00").danish
    assert "1.440 minutter efter afsendelsen (05.12.2026 09:00)" in overdue


# --- pages: the reader's language ---


@pytest.mark.parametrize("language", ["da", "en"])
def test_a_page_groups_a_byte_count_with_the_portals_one_number_format(language):
    """Rule: docs/users/languages.md: «1.234.567» whichever language is chosen."""
    with translation.override(language):
        shown = render("event.sent", SENT, fallback="")
    assert "(344.149 bytes)" in shown
    assert "INF-1234" in shown


def test_a_page_groups_in_the_readers_language(stock_formats):
    """Rule: the separator is the reader's language's, not Danish: with Django's English format,
    an English reader sees 344,149 while the Danish text keeps 344.149."""
    with translation.override("en"):
        english = render("event.sent", SENT, fallback="")
        danish = text("event.sent", **SENT).danish
    with translation.override("da"):
        shown_in_danish = render("event.sent", SENT, fallback="")
    assert english.startswith("Sent to test") and "(344,149 bytes)" in english
    assert "(344.149 bytes)" in danish
    assert shown_in_danish == danish


def test_a_page_leaves_identifiers_alone_in_english(stock_formats):
    """Rule: no separator in a period or an error code, in any language."""
    with translation.override("en"):
        period = render("validation.period", {"period": 202610, "value": "x"}, fallback="")
        code = render(
            "word.receipt_error", {"code": 1001, "meaning": "m", "description": "d"}, fallback=""
        )
        refused = text("word.receipt_error", code=1001, meaning="m", description="d")
        nested = render(
            "event.receipt_refused", {"uuid": "u", "errors": [refused.as_param()]}, fallback=""
        )
    assert "202610" in period and "1001" in code and "1001" in nested


def test_an_amount_inside_a_nested_text_is_grouped():
    """Rule: an SFTP error quoted in an event groups its byte counts too."""
    error = text("sftp.too_large", path="IN/x.csv", size=3000000, limit=2000000).as_param()
    with translation.override("en"):
        shown = render("event.push_failed", {"error": error}, fallback="")
    assert "3.000.000" in shown and "2.000.000" in shown


# --- the delivery page ---


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("da", "Sendt til test som OUT/FLIS_DAGTILBUD_0101_202610.csv (344.149 bytes)"),
        ("en", "Sent to test as OUT/FLIS_DAGTILBUD_0101_202610.csv (344.149 bytes)"),
    ],
)
def test_the_timeline_groups_an_old_rows_byte_count(
    client, settings, make_delivery, upload_route, vendor_a_user, language, shown
):
    """Rule: the plain number stored before this rule is shown grouped on the page, in the
    reader's language; the period in the file name and the InfRef beside it are not."""
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    delivery.events.update(
        message="Sendt til test som OUT/FLIS_DAGTILBUD_0101_202610.csv (344149 bytes) med "
        "triggerfil (InfRef INF-1234). Venter på teknisk kvittering.",
        message_code="event.sent",
        message_params=SENT,
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert shown in page
    assert "344149" not in page and "INF-1234" in page
