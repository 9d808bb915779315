"""Pages of a list whose total may run into the millions.

Django's Paginator counts every row the filter matches before it shows the first page: with a
million deliveries that COUNT(*) walks a million index entries on every view of the list
(benchmarks/load.py). `CappedPaginator` counts at most `cap` + 1 rows — the newest-first index
stops there — and says «over N» beyond, which is all a person paging fifty at a time can use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

# 200 pages of 50: nobody pages further; a filter finds an older delivery faster.
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """A Paginator whose `count` stops at `cap`; `capped` says whether there are more rows."""

    def __init__(
        self, object_list: QuerySet[Any], per_page: int, *, cap: int | None = None
    ) -> None:
        super().__init__(object_list, per_page)
        self.cap = COUNT_CAP if cap is None else cap

    @cached_property
    def counted(self) -> int:
        # A sliced queryset counts in a subquery with LIMIT: SELECT COUNT(*) FROM (… LIMIT n);
        # without the order, joins and columns of the page, any index the filter allows will do.
        rows = cast("QuerySet[Any]", self.object_list)  # a queryset, never a list
        return rows.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.counted, self.cap)

    @property
    def capped(self) -> bool:
        """More rows than `cap` match: the total (and the number of pages) is a lower bound."""
        return self.counted > self.cap


def page_values(page: Page[Any], fields: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of a page of a queryset as plain values (`QuerySet.values(*fields)`), for a list
    that writes its rows from values rather than model objects. Read from the page's slice after
    the paginator has counted: counting the paginated queryset itself needs none of the joins
    that related `fields` bring."""
    rows = cast("QuerySet[Any]", page.object_list)  # a sliced queryset, not yet read
    return list(rows.values(*fields))
