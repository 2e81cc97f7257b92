"""nginx in front of the app servers: render deploy/nginx/atmsite.conf.in for one deployment.

Two uses:
- `make serve` (atmsite.runall --app-ports ...) writes a stand-alone configuration into a runtime
  folder (pid file, logs, temporary files all inside it, so nginx runs without root) and starts
  `nginx -p <folder> -c nginx.conf`;
- an operator renders the site part once for Debian's nginx:

      python -m atmsite.nginx --app 10.0.0.11:8000 --app 10.0.0.12:8000 --listen 443 \\
          --static-root /srv/atmsite/static --tls-cert /etc/ssl/atm.pem --tls-key /etc/ssl/private/atm.key \\
          --proxy-snippet /etc/nginx/snippets/atmsite-proxy.conf > /etc/nginx/sites-available/atmsite

The policy (timeouts against slow clients, body size limits, forwarded headers, static files) is
in the template and the snippet under deploy/nginx/, the same for every deployment.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy" / "nginx"
TEMPLATE = DEPLOY_DIR / "atmsite.conf.in"
PROXY_SNIPPET = DEPLOY_DIR / "proxy.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
# The combined log plus where the time went: the whole request in nginx (rt), waiting for the app
# server's answer (urt) and which app server it was.
TIMED_LOG_FORMAT = ("log_format timed '$remote_addr - [$time_local] \"$request\" $status $body_bytes_sent "
                    "rt=$request_time urt=$upstream_response_time ua=$upstream_addr msec=$msec';")


@dataclass(frozen=True)
class Tls:
    """A certificate chain and its key: nginx terminates TLS and tells the app with X-Forwarded-Proto."""

    certificate: Path
    key: Path


@dataclass(frozen=True)
class Site:
    """What differs between deployments: where nginx listens, the app servers, the static files."""

    listen: str
    app_servers: tuple[str, ...]
    static_root: Path
    tls: Tls | None = None
    proxy_snippet: Path = PROXY_SNIPPET


def _listen_lines(site: Site) -> str:
    if site.tls is None:
        return f"    listen {site.listen};"
    return "\n".join([
        f"    listen {site.listen} ssl;",
        f"    ssl_certificate {site.tls.certificate};",
        f"    ssl_certificate_key {site.tls.key};",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_prefer_server_ciphers off;",
        "    ssl_session_cache shared:atmsite_tls:10m;",
        "    ssl_session_timeout 1d;",
        "    ssl_session_tickets off;",
    ])


def _http_redirect(site: Site) -> str:
    """With TLS, a plain-HTTP server on port 80 that only redirects to HTTPS."""
    if site.tls is None:
        return ""
    return ("server {\n    listen 80;\n    server_name _;\n    server_tokens off;\n"
            "    return 301 https://$host$request_uri;\n}\n")


def render_site(site: Site) -> str:
    """Return the http-level configuration (upstream and server blocks) of `site`."""
    if not site.app_servers:
        raise ValueError("at least one app server (host:port) is needed")
    upstreams = "\n".join(f"    server {address} max_fails=2 fail_timeout=5s;" for address in site.app_servers)
    text = TEMPLATE.read_text()
    for placeholder, value in {
        "@UPSTREAM_SERVERS@": upstreams, "@LISTEN@": _listen_lines(site), "@STATIC_ROOT@": str(site.static_root),
        "@PROXY_SNIPPET@": str(site.proxy_snippet), "@HTTP_REDIRECT_SERVER@": _http_redirect(site),
    }.items():
        text = text.replace(placeholder, value)
    return text


def render_standalone(site: Site, runtime_dir: Path, *, access_log: bool = True) -> str:
    """Return a whole nginx.conf for `nginx -p runtime_dir`: every file it writes stays in runtime_dir."""
    mime = f"    include {MIME_TYPES};\n" if MIME_TYPES.is_file() else ""
    temp = "".join(f"    {kind}_temp_path {runtime_dir / 'tmp' / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    log = f"access_log {runtime_dir / 'access.log'} timed;" if access_log else "access_log off;"
    return (
        "# Written by atmsite.nginx for `make serve`; edit deploy/nginx/ instead.\n"
        f"pid {runtime_dir / 'nginx.pid'};\n"
        f"error_log {runtime_dir / 'error.log'} warn;\n"
        "worker_processes auto;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"{mime}    default_type application/octet-stream;\n    sendfile on;\n    tcp_nopush on;\n"
        f"    {TIMED_LOG_FORMAT}\n    {log}\n{temp}"
        f"    include {runtime_dir / 'atmsite.conf'};\n"
        "}\n"
    )


def write_runtime(site: Site, runtime_dir: Path, *, access_log: bool = True) -> Path:
    """Write nginx.conf and atmsite.conf into `runtime_dir` (created with its temp folders); return nginx.conf."""
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (runtime_dir / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    (runtime_dir / "atmsite.conf").write_text(render_site(site))
    main = runtime_dir / "nginx.conf"
    main.write_text(render_standalone(site, runtime_dir, access_log=access_log))
    return main


def nginx_binary() -> str | None:
    """Return the path of the nginx executable, or None when it is not installed."""
    found = shutil.which("nginx")
    return found or next((path for path in NGINX_CANDIDATES if Path(path).is_file()), None)


def nginx_command(binary: str, runtime_dir: Path) -> list[str]:
    """Return the command line running nginx in the foreground on the runtime folder's configuration."""
    return [binary, "-p", str(runtime_dir), "-c", str(runtime_dir / "nginx.conf"), "-e", str(runtime_dir / "error.log"),
            "-g", "daemon off;"]


def main(argv: list[str] | None = None) -> int:
    """Print the site configuration for an operator's nginx."""
    parser = argparse.ArgumentParser(prog="python -m atmsite.nginx", description=__doc__.splitlines()[0])
    parser.add_argument("--app", action="append", required=True, metavar="HOST:PORT", help="An app server (repeat).")
    parser.add_argument("--listen", default="80", help="nginx's listen address or port (default 80).")
    parser.add_argument("--static-root", type=Path, required=True, help="Where collectstatic wrote the files.")
    parser.add_argument("--tls-cert", type=Path, help="Certificate chain (PEM): terminate TLS here.")
    parser.add_argument("--tls-key", type=Path, help="Its private key (PEM).")
    parser.add_argument("--proxy-snippet", type=Path, default=PROXY_SNIPPET,
                        help=f"Where the installed copy of {PROXY_SNIPPET.name} is (default: this checkout's).")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    tls = Tls(args.tls_cert, args.tls_key) if args.tls_cert else None
    sys.stdout.write(render_site(Site(args.listen, tuple(args.app), args.static_root, tls, args.proxy_snippet)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
