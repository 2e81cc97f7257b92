# Policy rules (k, l, t, suppression limit) are validated by PolicySpec; the field validators are gone (no schema change).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('anonymization', '0002_default_policy'),
    ]

    operations = [
        migrations.AlterField(
            model_name='releasepolicy',
            name='k',
            field=models.PositiveIntegerField(default=5, help_text='Smallest equivalence class; counted over distinct customers for transaction releases.'),
        ),
        migrations.AlterField(
            model_name='releasepolicy',
            name='l_diversity',
            field=models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='l (distinct l-diversity)'),
        ),
        migrations.AlterField(
            model_name='releasepolicy',
            name='suppression_limit',
            field=models.FloatField(default=0.02, help_text='Largest fraction of rows that may be suppressed.'),
        ),
        migrations.AlterField(
            model_name='releasepolicy',
            name='t_closeness',
            field=models.FloatField(blank=True, null=True, verbose_name='t (t-closeness)'),
        ),
    ]
