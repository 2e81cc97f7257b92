"""Back-office UI for release policies and releases: an operator UI over the release service."""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from atmsite.lib.admin import HostileInputMixin, action_page, is_row_id, submitted

from .exceptions import BrokerUnavailable, PolicyInvalid, ReleaseError
from .forms import (
    HierarchyPreviewForm,
    QuasiIdentifierForm,
    QuasiIdentifierFormSet,
    ReleaseAsOfForm,
    ReleasePolicyForm,
)
from .models import QuasiIdentifier, Release, ReleasePolicy
from .policy.preview import hierarchy_preview
from .policy.spec import PolicySpec
from .release import service
from .release.report import release_summary, report_context
from .selectors import published_period

ACTIVE = {Release.Status.QUEUED, Release.Status.RUNNING, Release.Status.VERIFYING}
# Releases whose progress the list and the release page poll for at most at once.
PROGRESS_IDS_MAX = 100


class QuasiIdentifierInline(admin.StackedInline):
    """One block per quasi-identifier (column, builder, parameters, ARX file), each with a live preview."""

    model = QuasiIdentifier
    form = QuasiIdentifierForm
    formset = QuasiIdentifierFormSet
    extra = 0
    classes = ["qi-inline"]


def _enqueue_message(release: Release) -> tuple[int, str]:
    text = {
        Release.Status.QUEUED: "Queued the release of {policy} as of {date} (#{pk}); a worker will run it.",
        Release.Status.PUBLISHED: "The release of {policy} as of {date} (#{pk}) is published.",
        Release.Status.FAILED: "The release of {policy} as of {date} (#{pk}) failed: {error}",
    }.get(release.status, "The release of {policy} as of {date} (#{pk}) is {status}.")
    level = messages.ERROR if release.status == Release.Status.FAILED else messages.SUCCESS
    return level, text.format(policy=release.policy.name, date=release.as_of, pk=release.pk, error=release.error,
                              status=release.get_status_display().lower())


@admin.register(ReleasePolicy)
class ReleasePolicyAdmin(HostileInputMixin, admin.ModelAdmin):
    form = ReleasePolicyForm
    inlines = [QuasiIdentifierInline]
    list_display = ["name", "source", "k", "suppression_limit", "metric", "recoding", "enabled", "schedule",
                    "increments"]
    list_filter = ["enabled", "source"]
    search_fields = ["name"]
    actions = ["run_release_now", "run_release_as_of", "enable_policies", "disable_policies"]

    @admin.display(description="Nightly schedule")
    def schedule(self, policy: ReleasePolicy) -> str:
        task = policy.periodic_task
        if task is None:
            return "-"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
        return format_html('<a href="{}">{}</a>', url, "on" if task.enabled else "off")

    @admin.display(description="Published increments")
    def increments(self, policy: ReleasePolicy) -> str:
        """Link one CSV of every published increment; other periods take ?from=&to= on the same URL."""
        period = published_period(policy_id=policy.pk)
        if period is None:
            return "-"
        url = reverse("releases:download_period", args=[policy.pk])
        return format_html('<a href="{}?from={}&amp;to={}">CSV {} to {}</a>', url, period[0], period[1],
                           period[0], period[1])

    def get_urls(self) -> list[URLPattern]:
        preview = self.admin_site.admin_view(self.preview_view)
        return [path("preview/", preview, name="anonymization_releasepolicy_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Return what a hierarchy being edited makes of a few sample values at each level (POSTed, as JSON).

        An invalid definition is an answer too ({"error": why}), shown in place of the preview.
        """
        if request.method != "POST":
            return JsonResponse({"error": "Send the hierarchy with POST."}, status=405)
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = HierarchyPreviewForm(request.POST)
        if not form.is_valid():
            return JsonResponse({"error": form.message()})
        try:
            preview = hierarchy_preview(**form.cleaned_data)
        except PolicyInvalid as exc:
            return JsonResponse({"error": str(exc)})
        return JsonResponse(preview.to_json())

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)
        service.policy_schedule_sync(policy=form.instance)

    @admin.action(description="Run release now (for yesterday)", permissions=["change"])
    def run_release_now(self, request: HttpRequest, queryset: QuerySet[ReleasePolicy]) -> None:
        self._enqueue(request, queryset, service.default_as_of())

    @admin.action(description="Run release now for a chosen as-of date…", permissions=["change"])
    def run_release_as_of(self, request: HttpRequest, queryset: QuerySet[ReleasePolicy]) -> TemplateResponse | None:
        form = ReleaseAsOfForm(submitted(request), initial={"as_of": service.default_as_of()})
        if form.is_bound and form.is_valid():
            self._enqueue(request, queryset, form.cleaned_data["as_of"])
            return None
        return action_page(
            self, request, list(queryset), action="run_release_as_of", form=form, title="Run release now",
            submit_label="Run release", intro="The release covers the ledger up to the end of the as-of date "
            "(a local day before today), from the day after the policy's last published release.")

    def _enqueue(self, request: HttpRequest, queryset: QuerySet[ReleasePolicy], as_of: datetime.date) -> None:
        for policy in queryset:
            try:
                release = service.release_enqueue(policy_id=policy.pk, as_of=as_of)
            except BrokerUnavailable as exc:
                self.message_user(request, f"{policy.name}: {exc}", messages.ERROR)
                continue
            except ReleaseError as exc:
                self.message_user(request, f"{policy.name}: {exc}", messages.ERROR)
                continue
            level, text = _enqueue_message(release)
            self.message_user(request, text, level)

    @admin.action(description="Enable (and schedule nightly)", permissions=["change"])
    def enable_policies(self, request: HttpRequest, queryset: QuerySet[ReleasePolicy]) -> None:
        for policy in queryset:
            service.policy_set_enabled(policy_id=policy.pk, enabled=True)
        self.message_user(request, f"Enabled {len(queryset)} polic(ies) and their nightly schedules.")

    @admin.action(description="Disable (and unschedule)", permissions=["change"])
    def disable_policies(self, request: HttpRequest, queryset: QuerySet[ReleasePolicy]) -> None:
        for policy in queryset:
            service.policy_set_enabled(policy_id=policy.pk, enabled=False)
        self.message_user(request, f"Disabled {len(queryset)} polic(ies) and their nightly schedules.")


@admin.register(Release)
class ReleaseAdmin(HostileInputMixin, admin.ModelAdmin):
    list_display = ["__str__", "status_badge", "progress_bar", "report", "window", "rows_out", "held_rows",
                    "suppressed_rows", "created_at"]
    list_filter = ["status", "policy"]
    list_select_related = ["policy"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a release changes only through the release service

    @admin.display(description="Status", ordering="status")
    def status_badge(self, release: Release) -> str:
        return format_html('<span class="badge badge--{}" data-release-status="{}">{}</span>', release.status,
                           release.pk, release.get_status_display())

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # releases are the audit trail of what was published

    @admin.display(description="Window")
    def window(self, release: Release) -> str:
        start = f"{release.window_start:%Y-%m-%d}" if release.window_start else "all history"
        return f"{start} to {release.as_of:%Y-%m-%d}"

    @admin.display(description="Progress")
    def progress_bar(self, release: Release) -> str:
        return format_html('<span class="release-progress" data-release="{}" data-active="{}" data-url="{}">'
                           '<progress max="100" value="{}">{}%</progress> {}</span>', release.pk,
                           "true" if release.status in ACTIVE else "false",
                           reverse("admin:anonymization_release_progress"), release.progress, release.progress,
                           release.progress_step)

    @admin.display(description="Report")
    def report(self, release: Release) -> str:
        url = reverse("admin:anonymization_release_report", args=[release.pk])
        return format_html('<a href="{}">Report<span class="visually-hidden"> of {}</span></a>', url, release)

    def get_urls(self) -> list[URLPattern]:
        report = self.admin_site.admin_view(self.report_view)
        progress = self.admin_site.admin_view(self.progress_view)
        return [path("<int:release_id>/report/", report, name="anonymization_release_report"),
                path("progress/", progress, name="anonymization_release_progress"), *super().get_urls()]

    def progress_view(self, request: HttpRequest) -> JsonResponse:
        """Return the status and progress of the releases asked for (?id=1&id=2), for the page's script."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ids = [int(value) for value in request.GET.getlist("id")[:PROGRESS_IDS_MAX] if is_row_id(value)]
        rows = Release.objects.filter(pk__in=ids).values("pk", "status", "progress", "progress_step")
        return JsonResponse({"releases": [
            {"id": row["pk"], "status": row["status"], "status_label": Release.Status(row["status"]).label,
             "progress": row["progress"], "step": row["progress_step"], "active": row["status"] in ACTIVE}
            for row in rows]})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        """Show a release as a read-only page: what it covers, how it went, its figures, its report and files."""
        if not is_row_id(object_id):
            raise Http404("No such release.")
        release = get_object_or_404(Release.objects.select_related("policy"), pk=object_id)
        if not self.has_view_permission(request, release):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": str(release), "release": release,
            "active": release.status in ACTIVE,
            "artifacts": release.artifacts.order_by("kind") if release.status == Release.Status.PUBLISHED else [],
            "can_download": request.user.has_perm("anonymization.download_release"),
        }
        return TemplateResponse(request, "admin/anonymization/release/detail.html", context)

    def report_view(self, request: HttpRequest, release_id: int) -> HttpResponse:
        """Show the release's figures as pictures: class sizes, levels, suppression, distributions."""
        release = get_object_or_404(Release.objects.select_related("policy"), pk=release_id)
        if not self.has_view_permission(request, release):
            raise PermissionDenied
        summary = release_summary(release)
        # A release records its policy when claimed; one never claimed shows the policy as it is now.
        spec = (PolicySpec.from_json(release.policy_snapshot) if release.policy_snapshot
                else PolicySpec.from_model(release.policy))
        published = release.status == Release.Status.PUBLISHED
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": f"Report: {release}",
            **report_context(release, spec, summary, include_before=True),
            "artifacts": release.artifacts.order_by("kind") if published else [],
            "can_download": request.user.has_perm("anonymization.download_release"),
            "active": release.status in ACTIVE, "published": published,
        }
        return TemplateResponse(request, "admin/anonymization/release/report.html", context)
