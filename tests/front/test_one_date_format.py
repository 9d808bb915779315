"""One date format and one number format in what a person reads: 27.11.2026 and
27.11.2026 13:00 in Copenhagen time (flisportal/formats, flisportal/lib/periods.py), 1.234.567
with a Danish thousands separator, and a size shown once (humane, the exact count in its
title). The main pages are rendered and their visible text scanned for any other pattern."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Receipt, ReceiptVerdict
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # 13:00 in Copenhagen

MONTHS = "jan|feb|mar|apr|maj|may|jun|jul|aug|sep|okt|oct|nov|dec"
OTHER_DATES = {
    "ISO": re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    "day-month-year with dashes": re.compile(r"\b\d{1,2}-\d{1,2}-\d{4}\b"),
    "with slashes": re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),
    "day and month name": re.compile(rf"\b\d{{1,2}}\.? ({MONTHS})\w*\.? \d{{4}}", re.IGNORECASE),
    "month name and day": re.compile(rf"\b({MONTHS})\w*\.? \d{{1,2}}, \d{{4}}", re.IGNORECASE),
}
PORTAL_DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b")


class _VisibleText(HTMLParser):
    """The text a person reads: text outside scripts, and the title and aria-label hints."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts += [value or "" for name, value in attrs if name in ("title", "aria-label")]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


@pytest.fixture
def sent_delivery(upload_route, flis_system, admin_user):
    with time_machine.travel(NOW, tick=False):
        delivery = factories.delivery(
            upload_route,
            status=DeliveryStatus.SENT,
            content=b"x" * 1_234_567,
            uploaded_by=admin_user,
            uploaded_at=NOW - timedelta(days=2),
            sent_at=NOW - timedelta(days=1),
        )
        recipient = factories.sftp_user(flis_system, "flis-hent")
        Receipt.objects.create(
            filetransfer_uuid=str(uuid.uuid4()),
            recipient_sftp_user=recipient,
            recipient_system=recipient.it_system,
            file_name="fil.csv",
            size=674,
            sender="UKENDT_AFSENDER",
            verdict=ReceiptVerdict.OK,
            fetched_at=NOW - timedelta(hours=1),
        )
    return delivery


@pytest.mark.parametrize("language", ["da", "en"])
def test_main_pages_show_only_the_portals_date_format(
    client, settings, admin_user, sent_delivery, language
):
    # Rule: every date a person reads is dd.mm.yyyy (with HH:MM in Copenhagen time), in both
    # languages; nothing ISO, with dashes or slashes, or with a month name.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(admin_user)
    pages = {
        "start": reverse("front:start"),
        "list": reverse("deliveries:list"),
        "detail": reverse("deliveries:detail", args=[sent_delivery.uuid]),
        "inbox": reverse("deliveries:inbox"),
    }
    with time_machine.travel(NOW, tick=False):
        texts = {
            name: visible_text(client.get(url).content.decode()) for name, url in pages.items()
        }
    for name, text in texts.items():
        for kind, pattern in OTHER_DATES.items():
            assert not pattern.search(text), f"{name}: a date {kind}: {pattern.search(text)}"
        if name != "start":
            assert PORTAL_DATE.search(text), f"{name} shows no date at all"
    # Local time, not UTC: uploaded 25.11.2026 12:00 UTC.
    assert "25.11.2026 13:00" in texts["detail"]
    assert "27.11.2026 12:00" in texts["inbox"]  # fetched an hour before NOW, 13:00 local


@pytest.mark.parametrize("language", ["da", "en"])
def test_a_size_is_shown_once_with_the_exact_count_in_its_title(
    client, settings, admin_user, sent_delivery, language
):
    # Rule: one humane size; the exact byte count with a Danish thousands separator on hover.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(admin_user)
    with time_machine.travel(NOW, tick=False):
        detail = client.get(reverse("deliveries:detail", args=[sent_delivery.uuid])).content
        inbox = client.get(reverse("deliveries:inbox")).content
    detail_html = detail.decode()
    assert '<span title="1.234.567 bytes">1,2' in detail_html
    assert "(1.234.567 bytes)" not in detail_html
    assert "674 bytes (674 bytes)" not in inbox.decode()
    assert '<span title="674 bytes">674' in inbox.decode()


def test_templates_name_only_the_portals_date_patterns(settings):
    # Rule: a template that formats a date uses the portal's pattern, so pages not rendered
    # above cannot drift back to ISO or dashes.
    allowed = {"d.m.Y", "d.m.Y H:i", "d.m.Y H:i:s"}
    found = {}
    for path in (settings.BASE_DIR / "templates").rglob("*"):
        if path.suffix in (".html", ".txt"):
            for pattern in re.findall(r"\|date:[\"']([^\"']*)[\"']", path.read_text("utf-8")):
                found.setdefault(pattern, []).append(path.name)
    assert found, "no template formats a date: the scan looks in the wrong place"
    assert {p: names for p, names in found.items() if p not in allowed} == {}
