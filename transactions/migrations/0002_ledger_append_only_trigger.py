"""Refuse UPDATE and DELETE of ledger rows in PostgreSQL itself.

The model layer already refuses; the trigger also stops raw SQL and other clients. It fires per
row, so TRUNCATE (used only by test database flushes) still works. SQLite, the development
default, relies on the model layer alone: Django's test flush deletes rows there.
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
}
DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS transactions_ledger_append_only ON transactions_ledgerentry",
        "DROP FUNCTION IF EXISTS transactions_ledger_append_only()",
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
