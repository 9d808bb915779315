"""Hostile CSV content through the real validation job: malformed UTF-8, a mix of encodings and
a 10 MB line each end `rejected` with a clear Danish message, and the file stays stored (the
vendor can download what they sent; an administrator can look at it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def rejected_with(delivery, private_media, content: bytes) -> list[tuple[str, int | None, str]]:
    assert validate_delivery(delivery.pk) == DeliveryStatus.REJECTED
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.REJECTED
    # Kept, byte for byte.
    assert (private_media / delivery.file.name).read_bytes() == content
    return [(i.rule, i.row, i.message) for i in delivery.issues.all()]


def test_malformed_utf8_is_rejected_with_the_line(
    make_delivery, upload_route, vendor_a_user, private_media
):
    # 0x81 is neither UTF-8 here nor a Windows-1252 character.
    content = dagtilbud_csv(rows_ok=3).encode() + b"101;202610;\x81\xc3;\n"
    delivery = make_delivery(upload_route, vendor_a_user, content)
    [(rule, row, message)] = rejected_with(delivery, private_media, content)
    assert (rule, row) == ("encoding", 5)
    assert "hverken gyldig UTF-8 eller Windows-1252 (byte 0x81)" in message


def test_mixed_encoding_is_rejected_instead_of_garbling_letters(
    make_delivery, upload_route, vendor_a_user, private_media
):
    # Rows 2-3 saved as UTF-8, row 4 pasted in from a Windows-1252 file.
    utf8 = dagtilbud_csv(
        dagtilbud_row(0, pasningstilbud="boernehave", daginstitutionsnummer="GÆ0001"),
        dagtilbud_row(1, daginstitutionsnummer="GØ0002"),
    ).encode("utf-8")
    content = utf8 + dagtilbud_row(2, daginstitutionsnummer="GÅ0003").encode("cp1252") + b"\n"
    delivery = make_delivery(upload_route, vendor_a_user, content)
    [(rule, row, message)] = rejected_with(delivery, private_media, content)
    assert (rule, row) == ("encoding", 2)
    assert "blander to tegnsæt" in message and "«Ã†» i stedet for «Æ»" in message


def test_a_10_mb_line_is_reported_in_short(
    make_delivery, upload_route, vendor_a_user, private_media
):
    content = dagtilbud_csv(dagtilbud_row(0, pasningstilbud="x" * 10_000_000), rows_ok=3).encode()
    delivery = make_delivery(upload_route, vendor_a_user, content)
    issues = rejected_with(delivery, private_media, content)
    assert ("enum", 5) in {(rule, row) for rule, row, _ in issues}
    # What is stored and shown is cut short: the report does not carry the 10 MB value.
    for issue in delivery.issues.all():
        assert len(issue.value) <= 100 and len(issue.message) <= 500


def test_a_10_mb_unquoted_line_is_a_structure_error(
    make_delivery, upload_route, vendor_a_user, private_media
):
    content = dagtilbud_csv(rows_ok=3).encode() + b'"' + b"z" * 10_000_000 + b"\n"
    delivery = make_delivery(upload_route, vendor_a_user, content)
    [(rule, row, message)] = rejected_with(delivery, private_media, content)
    assert (rule, row) == ("structure", 5)
    assert "Tjek anførselstegn" in message


MEASURE = """
import json, resource, sys
from pathlib import Path
import django
django.setup()
from deliveries.datacontracts import CONTRACTS_DIR
from deliveries.validation import validate_file
contract = json.loads((CONTRACTS_DIR / "dagtilbud.json").read_text(encoding="utf-8"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = validate_file(Path(sys.argv[1]), contract, kommune_code="101", period="2026-10")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_kb": after - before, "errors": report.error_count}))
"""


@pytest.mark.parametrize("line_mb", [10, 40])
def test_memory_for_a_long_line_stays_bounded(tmp_path, line_mb):
    """In a fresh process (so other tests' memory does not count): the peak grows by a small
    multiple of the line, not with how the file is read."""
    path = tmp_path / "lang.csv"
    path.write_text(
        dagtilbud_csv(dagtilbud_row(0, pasningstilbud="x" * line_mb * 1_000_000), rows_ok=3)
    )
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "flisportal.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["errors"] >= 1
    assert seen["grew_kb"] < line_mb * 1024 * 25, seen
