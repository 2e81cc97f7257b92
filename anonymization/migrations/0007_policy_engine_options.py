"""Release policies take ARX's engine options: recursive-(c,l)-diversity (`recursive_c`), hierarchical
t-closeness (`t_hierarchy`), the metric's gs-factor and attribute weights. All optional; existing
policies keep their behaviour and version fingerprint. Reversible (the fields are dropped).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('anonymization', '0006_policy_recoding'),
    ]

    operations = [
        migrations.AddField(
            model_name='releasepolicy',
            name='attribute_weights',
            field=models.JSONField(blank=True, default=dict, help_text='Metric weight per quasi-identifier, e.g. {"age": 2, "postal_code": 1}; unnamed columns weigh 0.5. For loss, entropy and precision metrics.'),
        ),
        migrations.AddField(
            model_name='releasepolicy',
            name='gs_factor',
            field=models.FloatField(blank=True, help_text='Generalization/suppression factor of the metric, 0 to 1 (default 0.5): below 0.5 suppression counts less, above 0.5 generalization counts less. For loss and the entropy metrics.', null=True, verbose_name='gs-factor'),
        ),
        migrations.AddField(
            model_name='releasepolicy',
            name='recursive_c',
            field=models.FloatField(blank=True, help_text='With l: recursive-(c,l)-diversity instead of distinct l-diversity. In every class the most frequent sensitive value occurs fewer than c times as often as the values from the l-th most frequent on, together. Full-domain recoding only.', null=True, verbose_name='c (recursive-(c,l)-diversity)'),
        ),
        migrations.AddField(
            model_name='releasepolicy',
            name='t_hierarchy',
            field=models.TextField(blank=True, help_text="With t: a hierarchy of the sensitive column's values (semicolon-separated, one row per value, most general level last); t-closeness then measures the hierarchical distance (moving a share between values that meet low in the hierarchy costs less).", verbose_name='t-closeness hierarchy (ARX CSV)'),
        ),
    ]
