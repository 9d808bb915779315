"""`manage.py audit_verify`: checks the audit log's hash chain; exit status 1 on a break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flisportal.audit.services import audit_verify


class Command(BaseCommand):
    help = "Kontrollerer revisionslogens hash-kæde (ændrede, slettede eller afkortede poster)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-checkpoint",
            action="store_true",
            help="Flyt ikke kontrolpunktet, selv om kæden er hel.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify(checkpoint=not options["no_checkpoint"])
        for problem in result.problems:
            self.stderr.write(problem)
        if not result.ok:
            raise CommandError(
                f"Revisionsloggen er brudt: {len(result.problems)} fejl i {result.checked} poster."
            )
        self.stdout.write(f"Revisionsloggen er hel: {result.checked} poster kontrolleret.")
