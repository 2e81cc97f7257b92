from django.apps import AppConfig


class AtmConfig(AppConfig):
    """The customer's web ATM: card-and-PIN sessions, the login throttle, the money pages."""

    name = "atm"
    verbose_name = "Web ATM"
