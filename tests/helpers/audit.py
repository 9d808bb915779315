"""Playing someone who can write the audit tables directly: `tampering()` lets a test edit and
delete audit rows as such a person could, and the verifier must then find it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

AUDIT_TABLES = (
    "audit_auditentry",
    "audit_auditcheckpoint",
    "audit_auditkeystart",
    "audit_auditheadexport",
)


@contextmanager
def tampering() -> Iterator[None]:
    """On PostgreSQL the audit tables refuse UPDATE and DELETE by trigger; the tables' owner
    can still disable it on purpose, and that is the tamperer played here. The ALTER TABLE is
    part of the test's transaction, so it is also undone with it. SQLite has no trigger."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # The rows the test wrote still have deferred foreign-key checks pending, and
        # PostgreSQL alters no table with pending trigger events: run those checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in AUDIT_TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in AUDIT_TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
