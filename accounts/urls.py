"""Web ATM URLs (filled in by the ATM views)."""

from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/"), name="home"),
]
