"""`manage.py rotate_key_encryption [--dry-run]`: re-encrypts every stored SFTP private key with
the newest Fernet key in FLISPORTAL_KEY_ENCRYPTION_KEYS, after which the older ones can go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routes.services import ReencryptResult, sftp_keys_reencrypt


class Command(BaseCommand):
    help = (
        "Krypterer alle gemte private SFTP-nøgler igen med den nyeste (første) nøgle i "
        "FLISPORTAL_KEY_ENCRYPTION_KEYS. Bagefter kan de ældre nøgler fjernes fra listen. "
        "Kan køres igen uden skade."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Kontrollér kun, at alle nøgler kan dekrypteres, og vis hvor mange der ville "
            "blive krypteret igen.",
        )

    def handle_one(self, *, dry_run: bool) -> ReencryptResult:
        return sftp_keys_reencrypt(dry_run=dry_run)

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.handle_one(dry_run=options["dry_run"])
        if result.unreadable:
            raise CommandError(
                f"{len(result.unreadable)} SSH-nøgler (id "
                f"{', '.join(str(pk) for pk in result.unreadable)}) kan ikke dekrypteres med "
                "nogen nøgle i FLISPORTAL_KEY_ENCRYPTION_KEYS. Intet er ændret. Sæt den "
                "Fernet-nøgle, de blev krypteret med, tilbage i listen, og kør kommandoen igen."
            )
        verb = "ville blive krypteret igen" if options["dry_run"] else "krypteret igen"
        summary = (
            f"{result.reencrypted} private nøgler {verb} med den nyeste nøgle; "
            f"{result.erased} udfasede nøgler uden privat del sprunget over."
        )
        if result.changed_meanwhile:
            # Retired in the portal, or rewritten by another run, while this one ran: left as
            # they now are, so a second run is what makes sure.
            summary += (
                f" {result.changed_meanwhile} blev ændret undervejs og er sprunget over: kør "
                "kommandoen igen, før den gamle nøgle fjernes."
            )
        self.stdout.write(summary)
