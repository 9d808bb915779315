"""Loads the shipped illustrative contract of each data area as its active version."""

import json
from pathlib import Path

from django.db import migrations

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"


def load(apps, schema_editor):
    DataArea = apps.get_model("routes", "DataArea")
    DataContract = apps.get_model("deliveries", "DataContract")
    for path in sorted(CONTRACTS_DIR.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        area = DataArea.objects.get(code=document["data_area"])
        if DataContract.objects.filter(data_area=area, version=document["version"]).exists():
            continue
        has_active = DataContract.objects.filter(data_area=area, is_active=True).exists()
        DataContract.objects.create(
            data_area=area,
            version=document["version"],
            document=document,
            is_illustrative=bool(document.get("illustrative")),
            is_active=not has_active,
            source=f"deliveries/contracts/{path.name}",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("deliveries", "0002_deliveries"),
        ("routes", "0002_reference_data"),
    ]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
