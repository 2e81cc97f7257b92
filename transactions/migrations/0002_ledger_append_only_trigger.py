"""Refuse UPDATE and DELETE of ledger rows in the database itself (PostgreSQL and SQLite).

The model layer already refuses; the triggers also stop raw SQL and other clients.
"""

from django.db import migrations

CREATE = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION transactions_ledger_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'ledger entries are append-only (% on transactions_ledgerentry)', TG_OP;
        END;
        $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER transactions_ledger_append_only
        BEFORE UPDATE OR DELETE ON transactions_ledgerentry
        FOR EACH ROW EXECUTE FUNCTION transactions_ledger_append_only()""",
    ],
    "sqlite": [
        """CREATE TRIGGER transactions_ledger_no_update BEFORE UPDATE ON transactions_ledgerentry
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
        """CREATE TRIGGER transactions_ledger_no_delete BEFORE DELETE ON transactions_ledgerentry
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    ],
}
DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS transactions_ledger_append_only ON transactions_ledgerentry",
        "DROP FUNCTION IF EXISTS transactions_ledger_append_only()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS transactions_ledger_no_update",
        "DROP TRIGGER IF EXISTS transactions_ledger_no_delete",
    ],
}


def _run(statements: dict[str, list[str]]):
    def apply(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("transactions", "0001_initial")]
    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
