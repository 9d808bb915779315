"""The contract pages: what a file for each data area must look like, before it is sent.

An index of the areas with their active version, one page per area and version (every column
with its rules in words, the rules between columns, the version history with what changed) and
a template CSV. Every logged-in role may read them: vendors prepare files, consultants and
administrators answer questions about them. The words come from `deliveries.rules`, the same
that describe a validation report's errors.
"""

from __future__ import annotations

from itertools import pairwise

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from deliveries import access
from deliveries.contract_guide import contract_changes, template_csv, template_encoding
from deliveries.models import DataContract
from deliveries.rules import column_rules, cross_rules, describe_rule
from flisportal.lib.periods import period_compact, period_of, period_shift

# The kommune in the template's example row; the vendor puts in their own.
TEMPLATE_KOMMUNE = "101"


def template_period() -> str:
    """The month a vendor delivers now: the one before the current month in Denmark."""
    return period_shift(period_of(timezone.now()), -1)


@login_required
@require_GET
def contract_index(request: HttpRequest) -> HttpResponse:
    contracts = (
        DataContract.objects.active()
        .select_related("data_area")
        .order_by("data_area__sort_order", "data_area__name")
    )
    return render(request, "deliveries/contract_index.html", {"contracts": contracts})


@login_required
@require_GET
def contract_detail(request: HttpRequest, area_code: str, version: str) -> HttpResponse:
    contract = access.contract_or_404(request, area_code, version)
    document = contract.document
    period = template_period()
    return render(
        request,
        "deliveries/contract_detail.html",
        {
            "contract": contract,
            "columns": column_rules(document),
            "cross_rules": cross_rules(document),
            "primary_key": describe_rule(document, column="", rule="primaryKey")
            if document["schema"].get("primaryKey")
            else "",
            "dialect": document["dialect"],
            "encoding": template_encoding(document),
            "example_period": period_compact(period),
            "history": _history(contract),
        },
    )


def _history(contract: DataContract) -> list[tuple[DataContract, list[str]]]:
    """Every version of the area, newest first, each with what changed from the one loaded
    before it (the first has no changes to show)."""
    versions = list(
        DataContract.objects.filter(data_area=contract.data_area).order_by("loaded_at", "pk")
    )
    history = [
        (newer, contract_changes(older.document, newer.document))
        for older, newer in pairwise(versions)
    ]
    if versions:
        history.insert(0, (versions[0], []))
    return list(reversed(history))


@login_required
@require_GET
def contract_template(request: HttpRequest, area_code: str, version: str) -> HttpResponse:
    """Header and one example row that passes this version of the contract."""
    contract = access.contract_or_404(request, area_code, version)
    document = contract.document
    body = template_csv(document, kommune_code=TEMPLATE_KOMMUNE, period=template_period())
    response = HttpResponse(body, content_type=f"text/csv; charset={template_encoding(document)}")
    name = f"skabelon-{contract.data_area.code}-{contract.version}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
