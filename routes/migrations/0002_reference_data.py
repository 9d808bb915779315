"""Loads the 98 kommuner, SF1630's five data areas and the Serviceplatform endpoints."""

import csv
from pathlib import Path

from django.db import migrations

KOMMUNER_CSV = Path(__file__).resolve().parent.parent / "data" / "kommuner.csv"

DATA_AREAS = [
    ("oekonomi", "Økonomi", "FLISOekonomiAflever_1", "FLISOekonomiHent_1"),
    ("personale", "Personale", "FLISPersonaleAflever_1", "FLISPersonaleHent_1"),
    ("skole", "Skole", "FLISSkoleAflever_1", "FLISSkoleHent_1"),
    ("dagtilbud", "Dagtilbud", "FLISDagtilbudAflever_1", "FLISDagtilbudHent_1"),
    (
        "voksne_handicappede",
        "Voksne og Handicappede",
        "FLISVoksneOgHandicappedeAflever_1",
        "FLISVoksneOgHandicappedeHent_1",
    ),
]

# KOMBIT's public hosts. Their host keys must be pinned by an administrator before use.
ENDPOINTS = [
    ("exttest", "Serviceplatformen – ekstern test", "sftpexttest.serviceplatformen.dk", 22, False),
    ("produktion", "Serviceplatformen – produktion", "sftp.serviceplatformen.dk", 22, False),
    ("lokal", "Lokal stand-in (udvikling og test)", "127.0.0.1", 2222, True),
]


def load(apps, schema_editor):
    Kommune = apps.get_model("routes", "Kommune")
    DataArea = apps.get_model("routes", "DataArea")
    Endpoint = apps.get_model("routes", "Endpoint")
    with KOMMUNER_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            Kommune.objects.update_or_create(
                code=row["kode"].strip().zfill(3)[-3:],
                defaults={"cvr": row["cvr"].strip(), "name": row["navn"].strip(),
                          "region": row["region"].strip()},
            )
    for order, (code, name, send, fetch) in enumerate(DATA_AREAS):
        DataArea.objects.update_or_create(
            code=code,
            defaults={"name": name, "send_service": send, "fetch_service": fetch,
                      "infref": send, "sort_order": order},
        )
    for slug, name, host, port, standin in ENDPOINTS:
        Endpoint.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "host": host, "port": port, "is_standin": standin,
                      "large_writes": standin},
        )


class Migration(migrations.Migration):
    dependencies = [("routes", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
