"""`manage.py serviceplatform`: run the local Serviceplatform stand-in until stopped."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliveries.serviceplatform.server import (
    Standin,
    default_host_key_path,
    default_root,
    endpoint_register_standin,
    host_key_fingerprint,
    host_key_load_or_create,
)
from routes.models import Endpoint


class Command(BaseCommand):
    help = (
        "Runs the local stand-in for KOMBIT's Serviceplatform SFTP service: an SFTP server whose "
        "users are the SFTP users of the stand-in endpoint, and which distributes uploaded "
        "files by the established routes. Registers its host key on the endpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default=settings.SERVICEPLATFORM_STANDIN_HOST,
            help="Address to listen on (default: SERVICEPLATFORM_STANDIN_HOST).",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=settings.SERVICEPLATFORM_STANDIN_PORT,
            help="Port to listen on; 0 picks a free one (default: SERVICEPLATFORM_STANDIN_PORT).",
        )
        parser.add_argument(
            "--root",
            type=Path,
            default=None,
            help="Folder holding the users' homes (default: <FLISPORTAL_DATA_DIR>/serviceplatform/"
            "homes).",
        )
        parser.add_argument(
            "--endpoint", default="lokal", help="Slug of the stand-in endpoint (default: lokal)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["endpoint"]
        endpoint = Endpoint.objects.filter(slug=slug).first()
        if endpoint is None or not endpoint.is_standin:
            raise CommandError(
                f"Der er intet stand-in-endpoint med koden '{slug}'. Kør `manage.py migrate`, "
                "eller markér endpointet som lokal stand-in i admin."
            )
        key = host_key_load_or_create(default_host_key_path())
        root = options["root"] or default_root()
        standin = Standin(
            root=root,
            endpoint_id=endpoint.pk,
            host_key=key,
            host=options["host"],
            port=options["port"],
        )
        try:
            asyncio.run(self._serve(standin, slug))
        except OSError as exc:
            raise CommandError(
                f"Stand-in'en kan ikke lytte på {options['host']}:{options['port']}: {exc}. "
                "Vælg en anden port med --port eller SERVICEPLATFORM_STANDIN_PORT."
            ) from None

    async def _serve(self, standin: Standin, slug: str) -> None:
        await standin.start()
        await sync_to_async(endpoint_register_standin, thread_sensitive=False)(
            slug=slug, key=standin.host_key, host=standin.host, port=standin.port
        )
        self.stdout.write(
            f"Serviceplatform stand-in lytter på {standin.host}:{standin.port} "
            f"(endpoint '{slug}'), værtsnøgle {host_key_fingerprint(standin.host_key)}, "
            f"hjemmemapper i {standin.root}",
        )
        self.stdout.flush()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        await stopped.wait()
        await standin.stop()
        self.stdout.write("Serviceplatform stand-in stoppet.")
