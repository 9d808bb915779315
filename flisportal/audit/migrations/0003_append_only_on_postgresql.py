"""On PostgreSQL the audit tables refuse UPDATE, DELETE and TRUNCATE, for every role.

A trigger rather than REVOKE: the portal's role usually owns its tables (it runs the
migrations), and an owner keeps every privilege a REVOKE takes away. The owner can still drop
or disable the trigger, but only deliberately, in DDL that PostgreSQL can log; a careless
operator's DELETE, a retention bug or an SQL injection into DML cannot remove a row. What the
trigger cannot stop, the HMAC and the exported heads find (docs/design/audit-log.md).
SQLite has no such guard: there the verifier alone finds the change.
"""

from django.db import migrations

TABLES = (
    "audit_auditentry",
    "audit_auditcheckpoint",
    "audit_auditkeystart",
    "audit_auditheadexport",
)

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'Revisionsloggen kan kun udvides: % på % er ikke tilladt', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Rækker i revisionsloggen ændres og slettes aldrig (docs/design/audit-log.md).';
END
$$
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # No parameters: the % in RAISE is PL/pgSQL's, not a placeholder.
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_keyed_chain_and_head_exports")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
