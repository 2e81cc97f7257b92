"""Customers get a country (ISO 3166-1 alpha-2) that sets their postal code format.

Existing customers get the country their postal code's format names when only one country has it
(NL 1012 AB, BE 1000, GB SW1A 1AA); a five-digit code (Germany or France) or a code of no known
format gets NL, and staff correct it when they next edit the customer. The formats are written out
here, as they were when this migration was made, so later rule changes do not change what it did.
"""

import re

from django.db import migrations, models

FORMATS_AT_THIS_MIGRATION = {
    "NL": r"[1-9][0-9]{3} ?[A-Za-z]{2}",
    "BE": r"[1-9][0-9]{3}",
    "DE": r"[0-9]{5}",
    "FR": r"[0-9]{5}",
    "GB": r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}",
}


def country_from_postal_code(apps, schema_editor):
    Customer = apps.get_model("accounts", "Customer")
    changed = []
    for customer in Customer.objects.only("pk", "postal_code").iterator(chunk_size=2000):
        fits = [country for country, pattern in FORMATS_AT_THIS_MIGRATION.items()
                if re.fullmatch(pattern, customer.postal_code.strip())]
        if len(fits) == 1 and fits[0] != "NL":
            customer.country = fits[0]
            changed.append(customer)
    Customer.objects.bulk_update(changed, ["country"], batch_size=2000)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0007_card_number_tries"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="country",
            field=models.CharField(
                choices=[("NL", "Netherlands"), ("BE", "Belgium"), ("DE", "Germany"), ("FR", "France"),
                         ("GB", "United Kingdom")],
                default="NL", help_text="The postal code must have this country's format.", max_length=2,
            ),
        ),
        migrations.RunPython(country_from_postal_code, migrations.RunPython.noop),
    ]
