"""`manage.py audit_verify`: checks the audit log's hash chain; exit status 1 on a break."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flisportal.audit.services import HeadsFileError, audit_verify, read_heads


class Command(BaseCommand):
    help = (
        "Kontrollerer revisionslogens hash-kæde (ændrede, slettede eller afkortede poster), "
        "med --heads også mod de eksporterede hoveder."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-checkpoint",
            action="store_true",
            help="Flyt ikke kontrolpunktet, selv om kæden er hel.",
        )
        parser.add_argument(
            "--heads",
            metavar="FIL",
            type=Path,
            help="Kontrollér også mod en fil med eksporterede hoveder (heads-filen eller "
            "linjer fra logstrømmen): et hoved, der mangler eller har en anden hash i "
            "databasen, er manipulation.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        heads = None
        if options["heads"] is not None:
            try:
                heads = read_heads(options["heads"])
            except HeadsFileError as exc:
                raise CommandError(str(exc)) from None
        result = audit_verify(checkpoint=not options["no_checkpoint"], heads=heads)
        for problem in result.problems:
            self.stderr.write(problem)
        if not result.ok:
            raise CommandError(
                f"Revisionsloggen er brudt: {len(result.problems)} fejl i {result.checked} poster."
            )
        against = f", {len(heads)} eksporterede hoveder fundet uændrede" if heads else ""
        self.stdout.write(f"Revisionsloggen er hel: {result.checked} poster kontrolleret{against}.")
