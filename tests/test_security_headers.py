"""Every page is served with a strict Content Security Policy that its own markup satisfies."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/admin/login/"])
def test_it_sends_a_strict_content_security_policy(client, url):
    response = client.get(url, follow=True)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_it_has_no_inline_script_or_style_on_the_atm_login_page(client):
    html = client.get("/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> would be blocked by the CSP"
    assert not re.search(r"\sstyle=", html), "style attributes would be blocked by the CSP"
    assert "<style" not in html
