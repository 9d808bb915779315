"""The language switch to English shows English, and the English catalog is complete."""

from __future__ import annotations

import ast
import gettext
import re

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

CATALOG = settings.BASE_DIR / "flisportal" / "locale" / "en" / "LC_MESSAGES" / "django.po"


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def page(client, name: str) -> str:
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    return response.content.decode()


def test_login_page_is_english(client):
    html = page(english(client), "login")
    assert "Log in" in html
    assert "Skip to content" in html
    assert "Log ind" not in html
    assert "Spring til indhold" not in html


def test_vendor_start_page_is_english(client, vendor_a_user):
    english(client).force_login(vendor_a_user)
    html = page(client, "front:start")
    assert "Home for Leverandør A" in html
    assert "Here you upload data extracts" in html
    assert "Deliveries" in html
    assert "Log out" in html
    for danish in ("Forside for Leverandør A", "Her uploader du dataudtræk", "Log ud"):
        assert danish not in html


def test_delivery_list_is_english(client, vendor_a_user):
    english(client).force_login(vendor_a_user)
    html = page(client, "deliveries:list")
    for text in ("Upload data extract", "Data area", "Municipality", "No deliveries match."):
        assert text in html
    for danish in ("Upload dataudtræk", "Dataområde", "Ingen leverancer matcher."):
        assert danish not in html


def test_danish_stays_the_default(client, vendor_a_user):
    client.force_login(vendor_a_user)
    html = client.get(reverse("deliveries:list")).content.decode()
    assert "Upload dataudtræk" in html
    assert "Upload data extract" not in html


def _entries(text: str) -> list[dict[str, object]]:
    """A tiny .po reader: each entry's flags, msgid and msgstr(s), with strings unquoted."""
    entries: list[dict[str, object]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry: dict[str, object] = {"flags": "", "msgstr": []}
        current: str | None = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] = line[2:]
            elif line.startswith("#"):
                continue
            elif line.startswith('"') and current is not None:
                if current.startswith("msgstr"):
                    entry["msgstr"][-1] += ast.literal_eval(line)  # type: ignore[index]
                else:
                    entry[current] += ast.literal_eval(line)  # type: ignore[operator]
            else:
                key, _, value = line.partition(" ")
                current = key
                if key.startswith("msgstr"):
                    entry["msgstr"].append(ast.literal_eval(value))  # type: ignore[attr-defined]
                else:
                    entry[key] = ast.literal_eval(value)
        entries.append(entry)
    return entries


def test_english_catalog_is_complete_and_not_fuzzy():
    entries = [e for e in _entries(CATALOG.read_text(encoding="utf-8")) if e.get("msgid")]
    assert len(entries) > 500
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]  # type: ignore[arg-type]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in str(e["flags"])]
    plurals = [e for e in entries if "msgid_plural" in e]
    assert not untranslated
    assert not fuzzy
    assert plurals and all(len(e["msgstr"]) == 2 for e in plurals)  # type: ignore[arg-type]


def test_compiled_catalog_matches_the_po_file():
    """CI has no gettext tools, so the committed .mo must hold every translation in the .po."""
    entries = [e for e in _entries(CATALOG.read_text(encoding="utf-8")) if e.get("msgid")]
    with CATALOG.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in entries:
        msgstr: list[str] = entry["msgstr"]  # type: ignore[assignment]
        if "msgctxt" in entry:  # a short word that means different things (a month's "sep")
            assert compiled.pgettext(entry["msgctxt"], entry["msgid"]) == msgstr[0]  # type: ignore[arg-type]
        elif "msgid_plural" in entry:
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1) == msgstr[0]
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 2) == msgstr[1]
        else:
            assert compiled.gettext(entry["msgid"]) == msgstr[0]  # type: ignore[arg-type]


def test_upload_form_labels_and_help_texts_are_english(client, vendor_a_user):
    """The form's lazy strings are in the catalog too (they were once hidden behind `_lazy`)."""
    english(client).force_login(vendor_a_user)
    html = page(client, "deliveries:upload")
    for text in ("Redelivery: send the file", "YYYY-MM", ".csv or .zip with exactly one"):
        assert text in html
    for danish in ("Genlevering: send filen", "ÅÅÅÅ-MM", "med præcis én .csv-fil"):
        assert danish not in html


GETTEXT_CALLS = {
    "_",
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "ngettext",
    "ngettext_lazy",
    "pgettext",
    "pgettext_lazy",
}


def test_no_translatable_text_is_marked_inside_an_f_string():
    """makemessages (xgettext) does not look inside f-strings: a text marked there never reaches
    the catalog and stays Danish for English readers, and the completeness test above cannot
    see it. Mark it outside, then use it in the f-string."""
    found = []
    for app in ("flisportal", "routes", "deliveries"):
        for path in sorted((settings.BASE_DIR / app).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.JoinedStr):
                    continue
                for call in ast.walk(node):
                    if not isinstance(call, ast.Call):
                        continue
                    func = call.func
                    name = getattr(func, "id", None) or getattr(func, "attr", "")
                    if name in GETTEXT_CALLS:
                        found.append(f"{path.relative_to(settings.BASE_DIR)}:{call.lineno}")
    assert not found, f"translatable text marked inside an f-string: {found}"
