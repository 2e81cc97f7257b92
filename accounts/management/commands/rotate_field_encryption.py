"""python manage.py rotate_field_encryption: re-encrypt contact details under the primary key."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from accounts.crypto import blind_index, decrypt_text, reencrypt_text

ENCRYPTED_COLUMNS = ("email", "phone", "street_address")


class Command(BaseCommand):
    help = (
        "Re-encrypt every customer's contact details with ATM_FIELD_ENCRYPTION_KEY (old keys from "
        "ATM_FIELD_ENCRYPTION_OLD_KEYS still decrypt) and recompute the email blind index."
    )

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        columns = ", ".join(ENCRYPTED_COLUMNS)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id, {columns} FROM accounts_customer")  # noqa: S608 (fixed column names)
            rows = cursor.fetchall()
            for pk, *tokens in rows:
                fresh = [reencrypt_text(token) if token else "" for token in tokens]
                email = decrypt_text(fresh[0]) if fresh[0] else ""
                cursor.execute(
                    f"UPDATE accounts_customer SET {', '.join(f'{c} = %s' for c in ENCRYPTED_COLUMNS)}, "
                    "email_index = %s WHERE id = %s",
                    [*fresh, blind_index(email) if email else "", pk],
                )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted contact details of {len(rows)} customers."))
