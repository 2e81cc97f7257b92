"""Errors raised by the release services. Each message is safe to show to a privacy officer."""

from __future__ import annotations


class ReleaseError(Exception):
    """Base class: the release did not publish anything when one of these is raised."""


class PolicyInvalid(ReleaseError):
    """The policy's columns, criteria or hierarchies cannot be used as they are.

    `field` names the policy field the rule is about, when there is one, so a form can show the
    message next to it.
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class HierarchyInvalid(PolicyInvalid):
    """A generalization hierarchy is malformed or does not cover the data."""


class ReleaseUnsatisfiable(ReleaseError):
    """No generalization meets the policy's privacy criteria within the suppression limit."""


class VerificationFailed(ReleaseError):
    """The written artifacts failed the independent privacy and identifier checks."""


class ReleaseBusy(ReleaseError):
    """Another release of the same policy is running; try again later."""


class ReleaseNotRunnable(ReleaseError):
    """The release is already published or is being run by a live worker."""


class BrokerUnavailable(ReleaseError):
    """The task queue (Celery broker) could not be reached."""


class ReleaseOutOfOrder(ReleaseNotRunnable):
    """The as-of date is on or before the policy's last published release, or its day is not over."""


class IncrementsIncompatible(ReleaseError):
    """The increments of a period cannot be joined into one file (their columns differ)."""
