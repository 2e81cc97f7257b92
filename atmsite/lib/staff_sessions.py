"""Staff sessions end after an idle time and after an absolute lifetime, whatever the cookie says.

The session cookie itself ends with the browser (SESSION_EXPIRE_AT_BROWSER_CLOSE) and the
server-side row expires after SESSION_COOKIE_AGE; this middleware adds what Django lacks for a
logged-in staff user: a logout after STAFF_SESSION_IDLE_SECONDS without a request, and after
STAFF_SESSION_MAX_SECONDS since login however busy the session is.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import SessionBase
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

LOGIN_AT_KEY = "staff_login_at"
SEEN_AT_KEY = "staff_seen_at"
# Record activity at most this often: a session save on every admin request costs a write.
SEEN_RESOLUTION_SECONDS = 30
IDLE_MESSAGE = "Your session ended after a period without activity. Please log in again."
EXPIRED_MESSAGE = "Your session reached its maximum length. Please log in again."


@receiver(user_logged_in, dispatch_uid="atmsite.staff_sessions.stamp_login")
def stamp_login(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """Start the session's clocks at login."""
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[LOGIN_AT_KEY] = now
        request.session[SEEN_AT_KEY] = now


def staff_session_problem(session: SessionBase, now: float) -> str | None:
    """Return why a logged-in session must end now (idle or too old), or None.

    A session without clocks (logged in before this check existed) starts them now.
    """
    login_at, seen_at = session.get(LOGIN_AT_KEY), session.get(SEEN_AT_KEY)
    if not isinstance(login_at, int | float) or not isinstance(seen_at, int | float):
        session[LOGIN_AT_KEY] = session[SEEN_AT_KEY] = now
        return None
    if now - login_at > settings.STAFF_SESSION_MAX_SECONDS:
        return EXPIRED_MESSAGE
    if now - seen_at > settings.STAFF_SESSION_IDLE_SECONDS:
        return IDLE_MESSAGE
    return None


class StaffSessionTimeoutMiddleware:
    """Log out an authenticated user whose session is idle or past its lifetime; else note the activity."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            problem = staff_session_problem(request.session, now)
            if problem:
                logout(request)
                messages.info(request, problem)
                return redirect_to_login(request.get_full_path())
            if now - request.session[SEEN_AT_KEY] >= SEEN_RESOLUTION_SECONDS:
                request.session[SEEN_AT_KEY] = now
        return self.get_response(request)
