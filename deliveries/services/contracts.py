"""Data contracts: a contract document is checked and stored as a new version of its area."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from deliveries.datacontracts import contract_problems
from deliveries.models import (
    DataContract,
)
from flisportal.audit.services import audit_record, snapshot
from routes.models import DataArea, User


def contract_load(
    *, document: Any, user: User | None, source: str = "", activate: bool = True
) -> DataContract:
    """Checks a contract document and stores it as a new version of its data area; with
    `activate` it becomes the version new deliveries are checked against."""
    problems = contract_problems(document)
    if problems:
        raise ValidationError(problems)
    area = DataArea.objects.filter(code=document["data_area"]).first()
    if area is None:
        raise ValidationError(f"Dataområdet «{document['data_area']}» findes ikke.")
    if DataContract.objects.filter(data_area=area, version=document["version"]).exists():
        raise ValidationError(
            f"Version {document['version']} af kontrakten for {area} er allerede indlæst; "
            "giv den nye version et nyt versionsnummer."
        )
    with transaction.atomic():
        if activate:
            DataContract.objects.filter(data_area=area, is_active=True).update(is_active=False)
        contract = DataContract.objects.create(
            data_area=area,
            version=document["version"],
            document=document,
            is_illustrative=bool(document.get("illustrative")),
            is_active=activate,
            loaded_by=user,
            source=source[:255],
        )
        # The document itself is kept on the contract row; the audit row says which version
        # was loaded, by whom, and whether it became the active one.
        audit_record(
            action="contract.load",
            obj=contract,
            after=snapshot(contract, exclude=("document",)),
            actor=user,
        )
        return contract
