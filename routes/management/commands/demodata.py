"""Demo data for local use: vendors, IT-systems, FLIS, people in every role, signed
databehandleraftaler, SFTP users with keys on the local stand-in, and routes.

Idempotent: running it again changes nothing that is already there (passwords included).
The passwords are printed in the README (Demo users) and are for a local demo only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from routes import services
from routes.models import (
    AgreementStatus,
    DataArea,
    Endpoint,
    ITSystem,
    KeyState,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    SftpUser,
    User,
    Vendor,
)

VENDORS = [
    # (name, cvr, contact, email)
    ("Nordlys Data A/S", "29130000", "Mette Nordlys", "drift@nordlys.example"),
    ("Fjordsoft ApS", "37450006", "Jens Fjord", "support@fjordsoft.example"),
]

IT_SYSTEMS = [
    # (name, uuid, vendor cvr or None, sender, recipient)
    ("Nordlys Løn", "3f2c1d2e-1111-4222-8333-444455556666", "29130000", True, False),
    ("Nordlys Økonomi", "3f2c1d2e-1111-4222-8333-444455557777", "29130000", True, False),
    ("Fjordsoft Skole", "7a9b0c1d-2222-4333-9444-555566667777", "37450006", True, False),
    ("FLIS", "0c5e3f6a-3333-4444-a555-666677778888", None, False, True),
]

PEOPLE = [
    # (username, password, first, last, role, vendor cvr, kommune codes)
    ("admin", "Demo-Admin-2026", "Anne", "Administrator", "admin", None, []),
    ("nordlys", "Demo-Nordlys-2026", "Niels", "Nordlys", "vendor", "29130000", []),
    ("fjordsoft", "Demo-Fjordsoft-2026", "Freja", "Fjord", "vendor", "37450006", []),
    ("kbh", "Demo-Kbh-2026", "Karen", "Konsulent", "consultant", None, ["101", "147"]),
    ("aarhus", "Demo-Aarhus-2026", "Anders", "Aarhus", "consultant", None, ["751"]),
]

AGREEMENTS = [
    # (vendor cvr, kommune code, signed on, document reference)
    ("29130000", "101", date(2026, 1, 15), "DBA-2026-0101-NORDLYS"),
    ("29130000", "147", date(2026, 1, 20), "DBA-2026-0147-NORDLYS"),
    ("37450006", "751", date(2026, 2, 2), "DBA-2026-0751-FJORDSOFT"),
]

# SFTP users on the local stand-in, one per demo IT-system (by UUID).
SFTP_USERS = [
    ("3f2c1d2e-1111-4222-8333-444455556666", "NORDLYS_LOEN_SFTP"),
    ("3f2c1d2e-1111-4222-8333-444455557777", "NORDLYS_OEKONOMI_SFTP"),
    ("7a9b0c1d-2222-4333-9444-555566667777", "FJORDSOFT_SKOLE_SFTP"),
    ("0c5e3f6a-3333-4444-a555-666677778888", "FLIS_SFTP"),
]

FLIS_UUID = "0c5e3f6a-3333-4444-a555-666677778888"

ROUTES = [
    # (endpoint, sender system uuid, data area, kommune codes, final status, order reference)
    (
        "lokal",
        "3f2c1d2e-1111-4222-8333-444455556666",
        "personale",
        ["101", "147"],
        RouteStatus.ESTABLISHED,
        "DEMO-LOKAL-PERSONALE",
    ),
    (
        "lokal",
        "3f2c1d2e-1111-4222-8333-444455557777",
        "oekonomi",
        ["101", "147"],
        RouteStatus.ESTABLISHED,
        "DEMO-LOKAL-OEKONOMI",
    ),
    (
        "lokal",
        "7a9b0c1d-2222-4333-9444-555566667777",
        "skole",
        ["751"],
        RouteStatus.ESTABLISHED,
        "DEMO-LOKAL-SKOLE",
    ),
    # Ordered on KOMBIT's external test, not yet established: shows the lifecycle under way.
    (
        "exttest",
        "7a9b0c1d-2222-4333-9444-555566667777",
        "skole",
        ["751"],
        RouteStatus.ORDERED,
        "DK-2026-000751",
    ),
]


class Command(BaseCommand):
    help = (
        "Creates demo vendors, IT-systems, users, agreements, SFTP users with keys and routes "
        "(idempotent; for local use only)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force-public-passwords",
            action="store_true",
            help="Run even with DEBUG=false, where the demo users' published passwords would "
            "let anyone log in (a throw-away demo server only).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The passwords are in the README: on a server that others can reach, they are an open
        # door (an administrator among them). Development is DEBUG=true, as `make run` starts it.
        if not settings.DEBUG and not options["force_public_passwords"]:
            raise CommandError(
                "demodata creates users (an administrator among them) whose passwords are "
                "published in the README, and DEBUG is false: this looks like production. "
                "Refused. On a throw-away demo server, run it with --force-public-passwords."
            )
        created = self.handle_one()
        self.stdout.write(f"demodata: {created} new rows (nothing is changed on a second run).")

    @transaction.atomic
    def handle_one(self) -> int:
        created = 0
        vendors: dict[str, Vendor] = {}
        for name, cvr, contact, email in VENDORS:
            vendors[cvr], new = Vendor.objects.get_or_create(
                cvr=cvr, defaults={"name": name, "contact_name": contact, "contact_email": email}
            )
            created += new
        for name, uuid, vendor_cvr, sender, recipient in IT_SYSTEMS:
            _, new = ITSystem.objects.get_or_create(
                uuid=uuid,
                defaults={
                    "name": name,
                    "vendor": vendors.get(vendor_cvr or ""),
                    "is_sender": sender,
                    "is_recipient": recipient,
                },
            )
            created += new
        for username, password, first, last, role, vendor_cvr, codes in PEOPLE:
            if User.objects.filter(username=username).exists():
                continue
            user = User.objects.create_user(
                username=username,
                password=password,
                first_name=first,
                last_name=last,
                email=f"{username}@demo.example",
                is_staff=role == "admin",
                is_superuser=role == "admin",
                vendor=vendors.get(vendor_cvr or ""),
            )
            if codes:
                user.kommuner.set(Kommune.objects.filter(code__in=codes))
            created += 1
        created += self._agreements(vendors)
        created += self._sftp_users()
        created += self._routes()
        return created

    def _agreements(self, vendors: dict[str, Vendor]) -> int:
        created = 0
        for vendor_cvr, code, signed_on, reference in AGREEMENTS:
            _, new = ProcessingAgreement.objects.get_or_create(
                vendor=vendors[vendor_cvr],
                kommune=Kommune.objects.get(code=code),
                defaults={
                    "status": AgreementStatus.SIGNED,
                    "signed_on": signed_on,
                    "document_reference": reference,
                },
            )
            created += new
        return created

    def _sftp_users(self) -> int:
        created = 0
        endpoint = Endpoint.objects.get(slug="lokal")
        for uuid, username in SFTP_USERS:
            sftp_user, new = SftpUser.objects.get_or_create(
                endpoint=endpoint,
                it_system=ITSystem.objects.get(uuid=uuid),
                defaults={"username": username},
            )
            created += new
            if not sftp_user.keys.filter(state=KeyState.ACTIVE).exists():
                # Ed25519: instant to make; the stand-in accepts it like RSA.
                services.sftp_key_generate(sftp_user=sftp_user, algorithm="ed25519", actor=None)
                created += 1
        return created

    def _routes(self) -> int:
        created = 0
        admin = User.objects.filter(username="admin").first()
        flis = ITSystem.objects.get(uuid=FLIS_UUID)
        for slug, sender_uuid, area_code, codes, final, reference in ROUTES:
            endpoint = Endpoint.objects.get(slug=slug)
            sender = ITSystem.objects.get(uuid=sender_uuid)
            area = DataArea.objects.get(code=area_code)
            for kommune in Kommune.objects.filter(code__in=codes):
                if Route.objects.filter(
                    endpoint=endpoint, data_area=area, sender_system=sender, kommune=kommune
                ).exists():
                    continue
                route = services.route_order(
                    kommune=kommune,
                    data_area=area,
                    sender_system=sender,
                    recipient_systems=[flis],
                    endpoint=endpoint,
                    actor=admin,
                    note="Demodata.",
                    order_reference=reference,
                    ordered_on=date(2026, 2, 1),
                )
                if final == RouteStatus.ESTABLISHED:
                    services.route_transition(
                        route=route,
                        new_status=RouteStatus.ESTABLISHED,
                        actor=admin,
                        note="Demodata: etableret på den lokale stand-in.",
                        on_date=date(2026, 2, 15),
                    )
                created += 1
        return created
