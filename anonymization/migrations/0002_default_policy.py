"""Create the default policy "Nightly transactions", its nightly schedule, and the privacy officers' rights.

The policy's hierarchies are explained in docs/releases.md. The schedule is a django-celery-beat
PeriodicTask on a 02:30 local-time crontab, editable in the admin; later changes to policies keep
schedules in sync through anonymization.release.service (not signals).

The "Privacy officers" group is created with its ledger permissions by transactions/migrations/
0003_staff_groups (a dependency); it is found by name here and permissions are only added. Permission rows
are created here when missing, because post_migrate only creates them after every migration.
"""

import json

from django.conf import settings
from django.db import migrations

POLICY_NAME = "Nightly transactions"
TASK = "anonymization.tasks.run_nightly_release"
PRIVACY_OFFICERS = "Privacy officers"
COLUMNS = ["age", "gender", "postal_code", "card_network", "card_number", "transaction_date", "amount",
           "balance_after", "kind"]
QUASI_IDENTIFIERS = [
    ("age", "intervals", {"bin": 1, "widths": [5, 10, 20]}),
    ("gender", "categories", {"levels": [{"*": "*"}]}),
    ("postal_code", "mask", {"keep": [4, 2]}),
    ("card_network", "categories", {"levels": [{"*": "*"}]}),
    ("card_number", "card", {"prefix_lengths": [4]}),
    ("transaction_date", "date", {"levels": ["month", "quarter", "year"]}),
    ("amount", "intervals", {"bin": 10, "widths": [50, 250, 1000]}),
    ("balance_after", "intervals", {"bin": 100, "widths": [1000, 5000, 25000]}),
]
# (model, actions)
GRANTS = [
    ("releasepolicy", ("view", "change")),
    ("quasiidentifier", ("view", "add", "change", "delete")),
    ("release", ("view", "change", "download")),
    ("artifact", ("view",)),
]


def _schedule(apps, alias, policy):
    crontabs = apps.get_model("django_celery_beat", "CrontabSchedule").objects.db_manager(alias)
    tasks = apps.get_model("django_celery_beat", "PeriodicTask").objects.db_manager(alias)
    crontab, _ = crontabs.get_or_create(minute="30", hour="2", day_of_week="*", day_of_month="*",
                                        month_of_year="*", timezone=settings.TIME_ZONE)
    task, _ = tasks.update_or_create(name=f"Nightly release: {policy.name}", defaults={
        "task": TASK, "crontab": crontab, "kwargs": json.dumps({"policy_id": policy.pk}), "enabled": True,
        "description": "Runs the policy's release for yesterday's date. Edit the schedule here."})
    return task


def _permissions(apps, alias):
    content_types = apps.get_model("contenttypes", "ContentType").objects.db_manager(alias)
    permissions = apps.get_model("auth", "Permission").objects.db_manager(alias)
    found = []
    for model_name, actions in GRANTS:
        verbose_name = apps.get_model("anonymization", model_name)._meta.verbose_name
        content_type, _ = content_types.get_or_create(app_label="anonymization", model=model_name)
        for action in actions:
            codename = "download_release" if action == "download" else f"{action}_{model_name}"
            name = "Can download release artifacts" if action == "download" else f"Can {action} {verbose_name}"
            permission, _ = permissions.get_or_create(content_type=content_type, codename=codename,
                                                      defaults={"name": name})
            found.append(permission)
    return found


def create(apps, schema_editor):
    """Create the default policy with its hierarchies and schedule; grant the privacy officers."""
    alias = schema_editor.connection.alias
    policies = apps.get_model("anonymization", "ReleasePolicy").objects.db_manager(alias)
    qis = apps.get_model("anonymization", "QuasiIdentifier").objects.db_manager(alias)
    policy, created = policies.get_or_create(name=POLICY_NAME, defaults={
        "source": "transactions", "columns": COLUMNS, "k": 5, "suppression_limit": 0.02, "metric": "loss"})
    if created:
        qis.bulk_create([qis.model(policy=policy, column=column, builder=builder, params=params)
                         for column, builder, params in QUASI_IDENTIFIERS])
        policy.periodic_task = _schedule(apps, alias, policy)
        policy.save(update_fields=["periodic_task"])
    group, _ = apps.get_model("auth", "Group").objects.db_manager(alias).get_or_create(name=PRIVACY_OFFICERS)
    group.permissions.add(*_permissions(apps, alias))


def remove(apps, schema_editor):
    """Delete the default policy (when it has no releases) and its schedule; revoke the grants."""
    alias = schema_editor.connection.alias
    policies = apps.get_model("anonymization", "ReleasePolicy").objects.db_manager(alias)
    policy = policies.filter(name=POLICY_NAME, releases__isnull=True).first()
    if policy is not None:
        task_id = policy.periodic_task_id
        policy.delete()
        apps.get_model("django_celery_beat", "PeriodicTask").objects.db_manager(alias).filter(pk=task_id).delete()
    group = apps.get_model("auth", "Group").objects.db_manager(alias).filter(name=PRIVACY_OFFICERS).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps, alias))


class Migration(migrations.Migration):
    dependencies = [
        ("anonymization", "0001_initial"),
        ("transactions", "0003_staff_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create, remove)]
