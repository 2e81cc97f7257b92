"""Create the staff groups "Tellers" and "Privacy officers" with their permissions.

Groups are found by name and permissions are only ever added, never replaced, so a later
migration of another app grants its own permissions to the same group by name, for example in
anonymization: depend on ("transactions", "0003_staff_groups"), then
`Group.objects.get_or_create(name="Privacy officers")[0].permissions.add(...)`.

Permission rows are normally created by post_migrate, which runs only after every migration,
so on a fresh database they do not exist yet: the ones needed here are created when missing
(post_migrate later finds them and adds only the others).
"""

from django.db import migrations

TELLERS = "Tellers"
PRIVACY_OFFICERS = "Privacy officers"

# group -> [(app label, model name, permission actions)]
GROUP_PERMISSIONS = {
    TELLERS: [
        ("accounts", "customer", ("view", "add", "change")),
        ("accounts", "account", ("view", "add", "change")),
        ("accounts", "card", ("view", "add", "change")),
        # "add" lets tellers post staff deposits, adjustments and reversals through the ledger
        # service (entries are never changed or deleted by anyone).
        ("transactions", "ledgerentry", ("view", "add")),
        ("transactions", "terminal", ("view",)),
    ],
    PRIVACY_OFFICERS: [
        ("transactions", "ledgerentry", ("view",)),
    ],
}


def _permissions(apps, alias, grants):
    """Return the permissions of `grants`, creating the missing content types and permissions."""
    content_types = apps.get_model("contenttypes", "ContentType").objects.db_manager(alias)
    permissions = apps.get_model("auth", "Permission").objects.db_manager(alias)
    found = []
    for app_label, model_name, actions in grants:
        verbose_name = apps.get_model(app_label, model_name)._meta.verbose_name
        content_type, _ = content_types.get_or_create(app_label=app_label, model=model_name)
        for action in actions:
            permission, _ = permissions.get_or_create(
                content_type=content_type, codename=f"{action}_{model_name}",
                defaults={"name": f"Can {action} {verbose_name}"},
            )
            found.append(permission)
    return found


def grant(apps, schema_editor):
    """Create each group if missing and add its permissions."""
    alias = schema_editor.connection.alias
    groups = apps.get_model("auth", "Group").objects.db_manager(alias)
    for name, grants in GROUP_PERMISSIONS.items():
        group, _ = groups.get_or_create(name=name)
        group.permissions.add(*_permissions(apps, alias, grants))


def revoke(apps, schema_editor):
    """Take back the permissions granted here; drop a group left with no permissions."""
    alias = schema_editor.connection.alias
    groups = apps.get_model("auth", "Group").objects.db_manager(alias)
    permissions = apps.get_model("auth", "Permission").objects.db_manager(alias)
    for name, grants in GROUP_PERMISSIONS.items():
        group = groups.filter(name=name).first()
        if group is None:
            continue
        for app_label, model_name, actions in grants:
            group.permissions.remove(*permissions.filter(
                content_type__app_label=app_label, content_type__model=model_name,
                codename__in=[f"{action}_{model_name}" for action in actions],
            ))
        if not group.permissions.exists():
            group.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0002_ledger_append_only_trigger"),
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
