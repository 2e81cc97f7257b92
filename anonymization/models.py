"""Release policies, the releases they produce and the files each release publishes.

Invariants kept by the database: one release per (policy, as-of date); k >= 2; the suppression
limit is a fraction in [0, 1]; a release has at most one artifact of each kind. The policy's rules
are worded once, in policy/spec.py (`clean()` applies them; the constraints are a backstop).
Workflows (running, verifying, publishing, scheduling) live in release/service.py.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .exceptions import PolicyInvalid
from .policy.spec import FULL_DOMAIN, LOCAL, PolicySpec


class ReleasePolicy(models.Model):
    class Source(models.TextChoices):
        TRANSACTIONS = "transactions", "Transactions (one row per ledger entry)"
        CUSTOMERS = "customers", "Customers (one row per customer, with aggregates)"

    class Recoding(models.TextChoices):
        FULL_DOMAIN = FULL_DOMAIN, "Full-domain generalization (Flash)"
        LOCAL = LOCAL, "Multidimensional local recoding (Mondrian)"

    name = models.CharField(max_length=100, unique=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.TRANSACTIONS)
    columns = models.JSONField(default=list, help_text="Released columns, in file order.")
    sensitive_column = models.CharField(max_length=40, blank=True)
    l_diversity = models.PositiveSmallIntegerField("l (distinct l-diversity)", null=True, blank=True)
    t_closeness = models.FloatField("t (t-closeness)", null=True, blank=True)
    k = models.PositiveIntegerField(
        default=5,
        help_text="Smallest equivalence class; counted over distinct customers for transaction releases.")
    suppression_limit = models.FloatField(
        default=0.02, help_text="Largest fraction of rows that may be suppressed.")
    metric = models.CharField(max_length=30, default="loss")
    recoding = models.CharField(
        max_length=20, choices=Recoding.choices, default=FULL_DOMAIN,
        help_text="Full-domain: Flash chooses one hierarchy level per column and applies it to every row (the "
                  "metric picks the level vector). Local: Mondrian gives each equivalence class its own labels "
                  "(numbers and dates as ranges within the catalog's public bounds, categories along the "
                  "hierarchy), keeping dense regions precise; it checks k only (no l or t).")
    recursive_c = models.FloatField(
        "c (recursive-(c,l)-diversity)", null=True, blank=True,
        help_text="With l: recursive-(c,l)-diversity instead of distinct l-diversity. In every class the most "
                  "frequent sensitive value occurs fewer than c times as often as the values from the l-th most "
                  "frequent on, together. Full-domain recoding only.")
    t_hierarchy = models.TextField(
        "t-closeness hierarchy (ARX CSV)", blank=True,
        help_text="With t: a hierarchy of the sensitive column's values (semicolon-separated, one row per value, "
                  "most general level last); t-closeness then measures the hierarchical distance (moving a "
                  "share between values that meet low in the hierarchy costs less).")
    gs_factor = models.FloatField(
        "gs-factor", null=True, blank=True,
        help_text="Generalization/suppression factor of the metric, 0 to 1 (default 0.5): below 0.5 suppression "
                  "counts less, above 0.5 generalization counts less. For loss and the entropy metrics.")
    attribute_weights = models.JSONField(
        default=dict, blank=True,
        help_text='Metric weight per quasi-identifier, e.g. {"age": 2, "postal_code": 1}; unnamed columns weigh '
                  "0.5. For loss, entropy and precision metrics.")
    enabled = models.BooleanField(default=True, help_text="Run nightly.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.SET_NULL, null=True, blank=True,
        editable=False, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "release policies"
        constraints = [
            models.CheckConstraint(condition=Q(k__gte=2), name="policy_k_at_least_2"),
            models.CheckConstraint(
                condition=Q(suppression_limit__gte=0) & Q(suppression_limit__lte=1),
                name="policy_suppression_limit_fraction"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Apply the policy's own rules (PolicySpec.validate_settings); its hierarchies are checked apart."""
        try:
            PolicySpec.from_model(self, quasi_identifiers=()).validate_settings()
        except PolicyInvalid as exc:
            raise ValidationError({exc.field: str(exc)} if exc.field else str(exc)) from exc


class QuasiIdentifier(models.Model):
    """A released column that is generalized by a hierarchy: a built-in builder or an ARX CSV."""

    class Builder(models.TextChoices):
        INTERVALS = "intervals", "Numeric intervals"
        MASK = "mask", "Mask trailing characters"
        DATE = "date", "Date (month, quarter, year)"
        CARD = "card", "Card number (IIN prefix, network)"
        CATEGORIES = "categories", "Category mapping"
        ARX = "arx", "Uploaded ARX hierarchy (CSV)"

    policy = models.ForeignKey(ReleasePolicy, on_delete=models.CASCADE, related_name="quasi_identifiers")
    column = models.CharField(max_length=40)
    builder = models.CharField(max_length=20, choices=Builder.choices)
    params = models.JSONField(default=dict, blank=True, help_text="Builder parameters (JSON).")
    arx_csv = models.TextField("ARX hierarchy", blank=True, help_text="Semicolon-separated, one row per value.")

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["policy", "column"], name="qi_one_per_policy_column")]

    def __str__(self) -> str:
        return f"{self.column} ({self.get_builder_display()})"


class Release(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        VERIFYING = "verifying", "Verifying"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"

    policy = models.ForeignKey(ReleasePolicy, on_delete=models.PROTECT, related_name="releases")
    as_of = models.DateField("as of")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    policy_snapshot = models.JSONField(default=dict, editable=False)
    # The increment: entries whose local day is in [window_start, as_of]; no start = all history.
    # Set at each claim from the policy's last published release (release/increments.py).
    window_start = models.DateField("window from", null=True, blank=True)
    policy_version = models.CharField(max_length=16, blank=True, help_text="Fingerprint of the policy as run.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Refreshed at every step: a running release whose heartbeat is old has lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # A fresh token per claim, so a worker that lost its claim cannot overwrite its successor's work.
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    progress_step = models.CharField(max_length=40, blank=True)
    rows_in = models.PositiveIntegerField(null=True, blank=True)
    rows_out = models.PositiveIntegerField(null=True, blank=True)
    suppressed_rows = models.PositiveIntegerField(null=True, blank=True)
    held_rows = models.PositiveIntegerField("held back", null=True, blank=True,
                                            help_text="Entries held back to a later night's release.")
    carried_rows = models.PositiveIntegerField("taken in from earlier nights", null=True, blank=True)
    levels = models.JSONField(default=dict, blank=True)
    information_loss = models.FloatField(null=True, blank=True)
    class_stats = models.JSONField(default=dict, blank=True)
    risk = models.JSONField("re-identification risk", default=dict, blank=True)
    nodes_checked = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    distributions = models.JSONField(default=dict, blank=True)
    # Local recoding only: per column, distinct labels and the median extent of a class's label.
    label_stats = models.JSONField("labels per column", default=dict, blank=True)
    # Workload error and column survival, computed at release time on the rows this release read.
    utility = models.JSONField(default=dict, blank=True)
    engine_version = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-as_of", "-pk"]
        permissions = [("download_release", "Can download release artifacts")]
        constraints = [
            models.UniqueConstraint(fields=["policy", "as_of"], name="release_one_per_policy_and_date"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="release_progress_percent"),
        ]
        indexes = [models.Index(fields=["policy", "status"])]

    def __str__(self) -> str:
        return f"{self.policy} as of {self.as_of:%Y-%m-%d}"

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.RUNNING, self.Status.VERIFYING}


class HeldEntry(models.Model):
    """A ledger entry a policy's increment could not release safely yet; the next release takes it in again.

    The set of a policy changes only when a release is published, in the same transaction, so a
    release that fails or whose worker dies neither loses nor duplicates held entries.
    """

    policy = models.ForeignKey(ReleasePolicy, on_delete=models.CASCADE, related_name="held_entries")
    entry_id = models.BigIntegerField()
    first_held_on = models.DateField(help_text="As-of date of the release that first held the entry back.")

    class Meta:
        ordering = ["policy", "entry_id"]
        verbose_name_plural = "held entries"
        constraints = [models.UniqueConstraint(fields=["policy", "entry_id"], name="held_entry_once_per_policy")]

    def __str__(self) -> str:
        return f"entry {self.entry_id} held for {self.policy_id} since {self.first_held_on:%Y-%m-%d}"


class Artifact(models.Model):
    """A published file of a release, stored through Django's storage API and served only by a checked view."""

    class Kind(models.TextChoices):
        CSV = "csv", "Data (CSV)"
        PARQUET = "parquet", "Data (Parquet)"
        METADATA = "metadata", "Metadata (JSON)"
        REPORT = "report", "Report (HTML)"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=255, help_text="Path in the default storage.")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["release", "kind"]
        constraints = [models.UniqueConstraint(fields=["release", "kind"], name="artifact_one_per_kind")]

    def __str__(self) -> str:
        return self.name

    @property
    def filename(self) -> str:
        return self.name.rsplit("/", 1)[-1]
