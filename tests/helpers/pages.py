"""Reading what a page or a download answered."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse, StreamingHttpResponse


def csv_rows(response: StreamingHttpResponse) -> list[list[str]]:
    """The rows of a CSV download, which every export writes for Danish Excel: UTF-8 with a
    BOM, semicolons."""
    text = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[arg-type]
    assert text.startswith("\ufeff")  # Danish Excel reads UTF-8 with a BOM
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def table_of(response: HttpResponse) -> str:
    """The coverage dashboard's table, without the page around it (its CSRF token differs)."""
    html = response.content.decode()
    start = html.index('<div class="table-responsive coverage-scroll">')
    return html[start : html.index("</table>", start)]
