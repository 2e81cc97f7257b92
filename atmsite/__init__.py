"""atmsite: a web ATM and bank back office that publishes k-anonymous releases."""

from .celery import app as celery_app

__all__ = ("celery_app",)
