"""Helpers shared by the apps, like healthchecks' hc/lib: they import Django but no app of ours."""
