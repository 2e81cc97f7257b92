"""Web ATM URLs, under the "atm" namespace."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "atm"

urlpatterns = [
    path("", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("session/more-time/", views.more_time, name="more_time"),
    path("balance/", views.balance, name="balance"),
    path("withdraw/", views.withdraw, name="withdraw"),
    path("deposit/", views.deposit, name="deposit"),
    path("transfer/", views.transfer, name="transfer"),
    path("pin/", views.change_pin, name="pin"),
    path("statement/", views.statement, name="statement"),
    path("receipt/<int:entry_id>/", views.receipt, name="receipt"),
]
