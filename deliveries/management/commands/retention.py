"""`manage.py retention [--dry-run]`: deletes stored extracts, the Hent side's copies of
fetched files (and copies no receipt names), finished mails, login records, the API's
idempotency keys and expired batch uploads past their retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from deliveries.services.retention import RetentionRound, retention_run


class Command(BaseCommand):
    help = (
        "Sletter gemte udtræk, der har passeret opbevaringsperioden (hentet, afvist eller "
        "afvist af Serviceplatformen). Leverancen, rapportens resumé og kvitteringer bevares. "
        "Sletter også Hent-sidens kopier af hentede filer efter opbevaringsperioden (filer i "
        "karantæne efter RETENTION_REJECTED_DAYS) og kopier, som ingen kvittering nævner. "
        "Sletter også færdige udgående mails efter RETENTION_MAIL_DAYS og django-axes' "
        "loginlog efter RETENTION_LOGIN_LOG_DAYS (låsetællere efter AXES_COOLOFF_MINUTES), "
        "API'ets idempotensnøgler efter FLISPORTAL_API_IDEMPOTENCY_KEEP_HOURS "
        "og samlede uploads med deres filer, der ikke er sendt, efter "
        "FLISPORTAL_BATCH_KEEP_HOURS."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Vis kun, hvad der ville blive slettet."
        )

    def handle_one(self, *, dry_run: bool) -> RetentionRound:
        return retention_run(dry_run=dry_run)

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.handle_one(dry_run=options["dry_run"])
        for failure in result.failed:
            self.stderr.write(failure)
        verb = "ville blive slettet" if result.dry_run else "slettet"
        self.stdout.write(
            f"{len(result.deleted)} filer ({result.bytes} bytes), "
            f"{len(result.receipts)} hentede kopier ({result.receipt_bytes} bytes) og "
            f"{len(result.orphans)} kopier uden kvittering {verb}; "
            f"{len(result.failed)} kunne ikke slettes. {result.mails} udgående mails, "
            f"{result.file_checks} kontroller uden afsendelse, "
            f"{result.login_attempts} loginforsøg, {result.login_logs} loginlogrækker, "
            f"{result.idempotency_keys} API-idempotensnøgler og "
            f"{result.batches} udløbne samlede uploads {verb}."
        )
