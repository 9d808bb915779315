"""`manage.py serviceplatform_register_key USERNAME PUBLIC_KEY`: the stand-in plays "KOMBIT
registers the key" for one of its SFTP users (the step a rotation waits for)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliveries.serviceplatform.keys import registered_key_add
from deliveries.serviceplatform.models import RegisteredKey
from routes.models import Endpoint, SftpUser


class Command(BaseCommand):
    help = (
        "Registrerer en offentlig nøgle for en SFTP-bruger på den lokale Serviceplatform-"
        "stand-in, som KOMBIT gør i Administrationsmodulet. Stand-in'en accepterer nøglen fra "
        "næste login. Giv nøglen som én linje i OpenSSH-format, eller '-' for at læse den fra "
        "standard input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="SFTP-brugerens navn på stand-in-endpointet.")
        parser.add_argument(
            "public_key", help="Den offentlige nøgle (fx 'ssh-rsa AAAA… kommentar'), eller '-'."
        )
        parser.add_argument(
            "--endpoint", default="lokal", help="Stand-in-endpointets kode (standard: lokal)."
        )

    def handle_one(self, *, endpoint_slug: str, username: str, public_key: str) -> RegisteredKey:
        endpoint = Endpoint.objects.filter(slug=endpoint_slug, is_standin=True).first()
        if endpoint is None:
            raise CommandError(
                f"Der er intet stand-in-endpoint med koden '{endpoint_slug}'. Angiv det rigtige "
                "med --endpoint; et rigtigt Serviceplatform-miljø registrerer nøgler i KOMBITs "
                "Administrationsmodul, ikke her."
            )
        if not SftpUser.objects.filter(endpoint=endpoint, username=username).exists():
            raise CommandError(
                f"Endpointet '{endpoint_slug}' har ingen SFTP-bruger '{username}'. Kontrollér "
                "navnet på SFTP-brugerens side i portalen."
            )
        try:
            return registered_key_add(endpoint=endpoint, username=username, public_key=public_key)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None

    def handle(self, *args: Any, **options: Any) -> None:
        public_key = options["public_key"]
        if public_key == "-":
            public_key = sys.stdin.read()
        key = self.handle_one(
            endpoint_slug=options["endpoint"], username=options["username"], public_key=public_key
        )
        self.stdout.write(
            f"Nøglen {key.fingerprint} er registreret for {key.username} på stand-in'en "
            f"'{options['endpoint']}'. Bekræft nu registreringen på SFTP-brugerens side i portalen."
        )
