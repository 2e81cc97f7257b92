"""atmsite/nginx.py: the rendered configuration is one nginx accepts, with the policy of deploy/nginx/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from atmsite.nginx import PROXY_SNIPPET, Site, Tls, main, nginx_binary, render_site, write_runtime

SITE = Site("127.0.0.1:8080", ("10.0.0.11:8001", "10.0.0.12:8001"), Path("/srv/atmsite/var/staticfiles"))


def test_it_balances_over_every_app_server_and_serves_static_files_itself():
    text = render_site(SITE)
    assert "server 10.0.0.11:8001 max_fails=2 fail_timeout=5s;" in text
    assert "server 10.0.0.12:8001 max_fails=2 fail_timeout=5s;" in text
    assert "alias /srv/atmsite/var/staticfiles/;" in text
    assert f"include {PROXY_SNIPPET};" in text and "@" not in text.replace("@...@", "")


def test_it_sets_the_forwarded_headers_instead_of_passing_the_clients_on():
    snippet = PROXY_SNIPPET.read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in snippet
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in snippet
    assert "proxy_request_buffering on;" in snippet


def test_it_refuses_a_site_without_app_servers():
    with pytest.raises(ValueError, match="app server"):
        render_site(Site("8080", (), Path("/tmp")))


def test_with_tls_it_listens_with_tls_only_and_redirects_plain_http(capsys):
    assert main(["--app", "10.0.0.11:8001", "--listen", "443", "--static-root", "/srv/static",
                 "--tls-cert", "/etc/ssl/atm.pem", "--tls-key", "/etc/ssl/atm.key"]) == 0
    text = capsys.readouterr().out
    assert "listen 443 ssl;" in text and "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "return 301 https://$host$request_uri;" in text


def test_tls_needs_both_certificate_and_key(capsys):
    with pytest.raises(SystemExit):
        main(["--app", "10.0.0.11:8001", "--static-root", "/srv/static", "--tls-cert", "/etc/ssl/atm.pem"])
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err


@pytest.mark.nginx
@pytest.mark.parametrize("tls", [False, True])
def test_nginx_accepts_the_stand_alone_configuration(tmp_path, tls):
    tls_files = None
    if tls:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=atm",
                        "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                       check=True, capture_output=True, timeout=60)
        tls_files = Tls(tmp_path / "cert.pem", tmp_path / "key.pem")
    site = Site("127.0.0.1:8443", SITE.app_servers, tmp_path / "static", tls_files)
    config = write_runtime(site, tmp_path / "run")
    if tls:  # the redirecting server's port 80 needs root; test the syntax on a free port instead
        site_conf = tmp_path / "run" / "atmsite.conf"
        site_conf.write_text(site_conf.read_text().replace("listen 80;", "listen 127.0.0.1:8081;"))
    checked = subprocess.run([nginx_binary(), "-t", "-p", str(tmp_path / "run"), "-c", str(config),
                              "-e", str(tmp_path / "run" / "error.log")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
