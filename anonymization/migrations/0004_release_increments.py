# Increments: each release records its window (window_start..as_of) and policy version; entries a
# night could not release safely are held back per policy (HeldEntry) until a later night.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('anonymization', '0003_policy_rules_in_spec'),
    ]

    operations = [
        migrations.AddField(
            model_name='release',
            name='carried_rows',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='taken in from earlier nights'),
        ),
        migrations.AddField(
            model_name='release',
            name='held_rows',
            field=models.PositiveIntegerField(blank=True, help_text="Entries held back to a later night's release.", null=True, verbose_name='held back'),
        ),
        migrations.AddField(
            model_name='release',
            name='policy_version',
            field=models.CharField(blank=True, help_text='Fingerprint of the policy as run.', max_length=16),
        ),
        migrations.AddField(
            model_name='release',
            name='window_start',
            field=models.DateField(blank=True, null=True, verbose_name='window from'),
        ),
        migrations.CreateModel(
            name='HeldEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entry_id', models.BigIntegerField()),
                ('first_held_on', models.DateField(help_text='As-of date of the release that first held the entry back.')),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='held_entries', to='anonymization.releasepolicy')),
            ],
            options={
                'verbose_name_plural': 'held entries',
                'ordering': ['policy', 'entry_id'],
                'constraints': [models.UniqueConstraint(fields=('policy', 'entry_id'), name='held_entry_once_per_policy')],
            },
        ),
    ]
