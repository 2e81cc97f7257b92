"""The default policy "Nightly transactions" stops releasing card_number.

Measured at 200 and 1,000 customers (benchmarks/release_privacy.py, and the make-run demo), the
version's person levels put card_number at `*` in every row: at its network level the card splits
every demographic cell three ways, which costs more than it tells (make-run demo, workload mean
error 0.39 with card_number at `*`, 0.54 at its network level). A column that says nothing in
every row is better not released at all: the attacker's knowledge of a target's card (network,
BIN) then meets nothing in the files. Installs where the policy was renamed, deleted or no longer
releases the column are left alone. Reversible: the column comes back after postal_code with the
card hierarchy it had.
"""

from django.db import migrations

POLICY_NAME = "Nightly transactions"
CARD = ("card_number", "card", {"prefix_lengths": [4]})


def _policy(apps, schema_editor):
    policies = apps.get_model("anonymization", "ReleasePolicy").objects.db_manager(schema_editor.connection.alias)
    return policies.filter(name=POLICY_NAME).first()


def drop_card_number(apps, schema_editor):
    policy = _policy(apps, schema_editor)
    if policy is None or CARD[0] not in policy.columns:
        return
    policy.columns = [name for name in policy.columns if name != CARD[0]]
    policy.save(update_fields=["columns"])
    qis = apps.get_model("anonymization", "QuasiIdentifier").objects.db_manager(schema_editor.connection.alias)
    qis.filter(policy=policy, column=CARD[0]).delete()


def restore_card_number(apps, schema_editor):
    policy = _policy(apps, schema_editor)
    if policy is None or CARD[0] in policy.columns:
        return
    columns = list(policy.columns)
    at = columns.index("postal_code") + 1 if "postal_code" in columns else len(columns)
    policy.columns = [*columns[:at], CARD[0], *columns[at:]]
    policy.save(update_fields=["columns"])
    qis = apps.get_model("anonymization", "QuasiIdentifier").objects.db_manager(schema_editor.connection.alias)
    qis.create(policy=policy, column=CARD[0], builder=CARD[1], params=CARD[2])


class Migration(migrations.Migration):
    dependencies = [("anonymization", "0007_policy_engine_options")]
    operations = [migrations.RunPython(drop_card_number, restore_card_number)]
