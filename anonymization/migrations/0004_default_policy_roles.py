"""Bring the default policy "Nightly transactions" in line with the column roles (docs/releases.md).

`kind` becomes a quasi-identifier with the trivial hierarchy kind -> `*`, so it counts in the
equivalence classes (before, it was released as it is, outside them). `card_network` is no longer
released: card_number's card hierarchy (BIN -> 4-digit prefix -> network -> `*`) already has the
network as a level, and a released column that repeats a hierarchy level is refused. Installs where
the policy was renamed or deleted are left alone. Reversible.
"""

from django.db import migrations

POLICY_NAME = "Nightly transactions"
TRIVIAL = {"levels": [{"*": "*"}]}


def _policy(apps, schema_editor):
    policies = apps.get_model("anonymization", "ReleasePolicy").objects.db_manager(schema_editor.connection.alias)
    return policies.filter(name=POLICY_NAME).first()


def forwards(apps, schema_editor):
    """Make kind a quasi-identifier and stop releasing card_network."""
    policy = _policy(apps, schema_editor)
    if policy is None:
        return
    qis = apps.get_model("anonymization", "QuasiIdentifier").objects.db_manager(schema_editor.connection.alias)
    if "kind" in policy.columns and not qis.filter(policy=policy, column="kind").exists():
        qis.create(policy=policy, column="kind", builder="categories", params=TRIVIAL)
    if "card_network" in policy.columns:
        policy.columns = [name for name in policy.columns if name != "card_network"]
        policy.save(update_fields=["columns"])
        qis.filter(policy=policy, column="card_network").delete()


def backwards(apps, schema_editor):
    """Release card_network again (before card_number, where it was) and kind without a hierarchy."""
    policy = _policy(apps, schema_editor)
    if policy is None:
        return
    qis = apps.get_model("anonymization", "QuasiIdentifier").objects.db_manager(schema_editor.connection.alias)
    qis.filter(policy=policy, column="kind", builder="categories", params=TRIVIAL).delete()
    if "card_network" not in policy.columns:
        columns = list(policy.columns)
        at = columns.index("card_number") if "card_number" in columns else len(columns)
        policy.columns = [*columns[:at], "card_network", *columns[at:]]
        policy.save(update_fields=["columns"])
        qis.create(policy=policy, column="card_network", builder="categories", params=TRIVIAL)


class Migration(migrations.Migration):
    dependencies = [("anonymization", "0003_policy_rules_in_spec")]
    operations = [migrations.RunPython(forwards, backwards)]
