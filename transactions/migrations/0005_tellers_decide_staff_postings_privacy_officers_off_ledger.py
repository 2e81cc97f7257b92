"""Least privilege for the staff groups, after four eyes on staff postings.

- Tellers may view staff postings waiting for approval and approve or reject another teller's
  (transactions.StaffPosting; a maker can never decide their own).
- Privacy officers lose the raw ledger (account numbers, exact amounts, balances, times): they
  configure and publish releases, which read the ledger through the release pipeline, not the admin.
  They keep no permission on customers, accounts or cards either.

Permissions are found by codename and created when missing (as in 0003_staff_groups); reversing
puts back exactly what was taken.
"""

from django.db import migrations

TELLERS = "Tellers"
PRIVACY_OFFICERS = "Privacy officers"
TELLER_GRANTS = [("staffposting", "view", "Can view staff posting"),
                 ("staffposting", "approve", "Can approve or reject staff postings of another staff member")]
PRIVACY_OFFICER_REVOKES = [("transactions", "ledgerentry"), ("accounts", "customer"), ("accounts", "account"),
                           ("accounts", "card")]


def _teller_permissions(apps, alias):
    content_type, _ = apps.get_model("contenttypes", "ContentType").objects.db_manager(alias).get_or_create(
        app_label="transactions", model="staffposting")
    permissions = apps.get_model("auth", "Permission").objects.db_manager(alias)
    return [
        permissions.get_or_create(content_type=content_type, codename=f"{action}_{model}", defaults={"name": name})[0]
        for model, action, name in TELLER_GRANTS
    ]


def _privacy_officer_revokes(apps, alias):
    permissions = apps.get_model("auth", "Permission").objects.db_manager(alias)
    found = []
    for app_label, model in PRIVACY_OFFICER_REVOKES:
        found += permissions.filter(content_type__app_label=app_label, content_type__model=model)
    return found


def apply(apps, schema_editor):
    alias = schema_editor.connection.alias
    groups = apps.get_model("auth", "Group").objects.db_manager(alias)
    tellers, _ = groups.get_or_create(name=TELLERS)
    tellers.permissions.add(*_teller_permissions(apps, alias))
    officers = groups.filter(name=PRIVACY_OFFICERS).first()
    if officers is not None:
        officers.permissions.remove(*_privacy_officer_revokes(apps, alias))


def unapply(apps, schema_editor):
    alias = schema_editor.connection.alias
    groups = apps.get_model("auth", "Group").objects.db_manager(alias)
    tellers = groups.filter(name=TELLERS).first()
    if tellers is not None:
        tellers.permissions.remove(*_teller_permissions(apps, alias))
    officers = groups.filter(name=PRIVACY_OFFICERS).first()
    if officers is not None:
        view = apps.get_model("auth", "Permission").objects.db_manager(alias).filter(
            content_type__app_label="transactions", codename="view_ledgerentry")
        officers.permissions.add(*view)


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0004_staff_posting_four_eyes"),
        ("transactions", "0003_staff_groups"),
    ]
    operations = [migrations.RunPython(apply, unapply)]
