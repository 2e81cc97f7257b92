from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customers, accounts and cards"

    def ready(self) -> None:
        # Admin autodiscovery (django.contrib.admin's ready) has registered every admin by now,
        # including Django's and Celery's: give them the same bad-input guard as ours.
        from django.contrib import admin

        from atmsite.lib import staff_sessions  # noqa: F401  (stamps the login time of every session)
        from atmsite.lib.admin import guard_registered_admins

        from . import checks  # noqa: F401  (registers the system checks)

        guard_registered_admins(admin.site)
