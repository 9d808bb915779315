"""Demo data for local use: vendors, IT-systems, FLIS, people in every role.

Idempotent: running it again changes nothing that is already there (passwords included).
The passwords are printed in the README and are for a local demo only.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from routes.models import ITSystem, Kommune, User, Vendor

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


class Command(BaseCommand):
    help = "Creates demo vendors, IT-systems and users (idempotent; for local use only)."

    def handle(self, *args: Any, **options: Any) -> None:
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
        return created
