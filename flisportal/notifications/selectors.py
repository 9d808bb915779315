"""Reads of the mail choices that are more than one filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery

from flisportal.notifications.models import ConsultantEvent, NotificationKommuneChoice


@dataclass(frozen=True)
class KommuneChoices:
    """One of a consultant's kommuner with their own choice per event ("" = the general one)."""

    pk: int
    name: str
    choices: dict[str, str]


def kommune_choices_for(user: Any) -> list[KommuneChoices]:
    """The person's kommuner by name, each with the choices made for it alone: one query, with
    a subquery per event rather than a query per kommune (a consultant of a whole region)."""
    columns = {
        f"choice_{event.value}": Subquery(
            NotificationKommuneChoice.objects.filter(
                user_id=user.pk, kommune=OuterRef("pk"), event=event
            ).values("choice")[:1]
        )
        for event in ConsultantEvent
    }
    rows = user.kommuner.order_by("name").annotate(**columns).values("pk", "name", *columns)
    return [
        KommuneChoices(
            pk=row["pk"],
            name=row["name"],
            choices={event.value: row[f"choice_{event.value}"] or "" for event in ConsultantEvent},
        )
        for row in rows
    ]
