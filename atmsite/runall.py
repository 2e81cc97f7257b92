"""Run the whole site as supervised child processes: web server, Celery worker and Celery beat.

    python -m atmsite.runall --host 127.0.0.1 --port 8000 --logins var/demo-cards.txt
    python -m atmsite.runall --host 0.0.0.0 --port 8080 --app-ports 8001 8002      # make serve

This is what `make run` starts. With --app-ports (`make serve`) it runs the production shape
instead: one gunicorn per port on 127.0.0.1 (two app servers, as two machines would be) behind
nginx listening on --host/--port (configuration rendered from deploy/nginx/ into --runtime-dir,
see atmsite.nginx), on PostgreSQL and Redis only, which is where sessions, login throttles and
idempotency keys live: no app server keeps state of its own. --without-celery leaves out the
worker and beat (a web-only machine). The web server is gunicorn (production-like; whitenoise serves the
static files), the worker and beat are Celery's own commands, all taken from the virtualenv that
runs this module. Each child's output is shown line by line behind its name. Once the web server
answers HTTP, the URL, the staff logins and the demo cards (lines `admin=...` and `card=...` of the
logins file) are printed.

Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL after a timeout) and exits 0. When a
child dies on its own, the others are stopped and the exit status is 1, naming the child.
Children run in their own sessions, so a terminal's Ctrl-C reaches only this supervisor, which
then stops them in order; a SIGKILL goes to a child's whole process group (gunicorn's workers,
Celery's pool).
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from atmsite import nginx

STOP_TIMEOUT_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 60.0
# Workers, threads and keep-alive of every app server (shared with deploy/systemd).
GUNICORN_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn" / "atmsite.conf.py"
DEFAULT_RUNTIME_DIR = Path(__file__).resolve().parent.parent / "var" / "serve"
LOGIN_PREFIXES = ("admin=", "card=")


@dataclass
class Child:
    """A running child process and the name its output lines are shown behind."""

    name: str
    process: subprocess.Popen[bytes]


class Console:
    """Write whole lines from several threads without interleaving them."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream, self._lock = stream, threading.Lock()

    def line(self, name: str, text: str) -> None:
        with self._lock:
            self._stream.write(f"{name:>6} | {text}\n")
            self._stream.flush()


@dataclass(frozen=True)
class Proxy:
    """The production shape: app servers on these ports of 127.0.0.1 behind nginx configured in runtime_dir."""

    app_ports: tuple[int, ...]
    runtime_dir: Path
    nginx_binary: str


def gunicorn_command(bind: str, *, access_log: bool = True) -> list[str]:
    """Return the command line of one app server (gunicorn) on `bind`, with deploy/gunicorn's settings."""
    return [
        str(Path(sys.executable).parent / "gunicorn"), "atmsite.wsgi", "--config", str(GUNICORN_CONFIG),
        "--bind", bind, "--access-logfile", "-" if access_log else "/dev/null",
        # One shared default control socket (~/.gunicorn) would clash between two checkouts.
        "--no-control-socket",
    ]


def child_commands(host: str, port: int, proxy: Proxy | None = None, celery: bool = True) -> dict[str, list[str]]:
    """Return the command line of each child, using the executables next to this Python."""
    bin_dir = Path(sys.executable).parent
    if proxy is None:
        commands = {"web": gunicorn_command(f"{host}:{port}")}
    else:
        # nginx logs every request; the app servers stay quiet.
        commands = {f"app{number}": gunicorn_command(f"127.0.0.1:{app_port}", access_log=False)
                    for number, app_port in enumerate(proxy.app_ports, start=1)}
        commands["nginx"] = nginx.nginx_command(proxy.nginx_binary, proxy.runtime_dir)
    if celery:
        commands["worker"] = [str(bin_dir / "celery"), "-A", "atmsite", "worker", "-l", "info", "--concurrency", "1"]
        commands["beat"] = [str(bin_dir / "celery"), "-A", "atmsite", "beat", "-l", "info"]
    return commands


def proxy_problem(celery: bool) -> str | None:
    """Return why the production shape cannot run on these settings (state outside the database), or None."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmsite.settings")
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return ("the app servers share sessions, throttles and idempotency keys through the database: "
                "set DATABASE_URL=postgres://...")
    if celery and not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return "the worker and beat need a broker every machine reaches: set CELERY_BROKER_URL=redis://..."
    return None


def proxy_prepare(host: str, port: int, proxy: Proxy) -> None:
    """Write nginx's configuration for this site into the runtime folder."""
    from django.conf import settings

    site = nginx.Site(f"{host}:{port}", tuple(f"127.0.0.1:{app_port}" for app_port in proxy.app_ports),
                      Path(settings.STATIC_ROOT))
    nginx.write_runtime(site, proxy.runtime_dir)
    # Every child believes X-Forwarded-* from nginx on this machine, and from no one else.
    os.environ["DJANGO_BEHIND_PROXY"] = "true"
    os.environ.setdefault("DJANGO_TRUSTED_PROXIES", "127.0.0.1,::1")


def prepare_broker_folders() -> list[Path]:
    """Create the folders of kombu's filesystem transport when it is the broker; return them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmsite.settings")
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return []
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    names = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    folders = sorted({Path(options[name]) for name in names if options.get(name)})
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def _pump(child: Child, console: Console) -> None:
    """Copy the child's output to the console, line by line, behind its name."""
    assert child.process.stdout is not None
    for raw in iter(child.process.stdout.readline, b""):
        console.line(child.name, raw.decode("utf-8", "replace").rstrip("\r\n"))


def start_children(commands: dict[str, list[str]], console: Console) -> list[Child]:
    """Start every child in its own session with unbuffered, merged output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    children = []
    for name, argv in commands.items():
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            stop_children(children, console)
            raise SystemExit(f"runall: cannot start {name}: {argv[0]} not found (run `make install`)") from exc
        child = Child(name, process)
        threading.Thread(target=_pump, args=(child, console), name=f"pump-{name}", daemon=True).start()
        console.line("runall", f"started {name} (pid {process.pid}): {' '.join(argv)}")
        children.append(child)
    return children


def stop_children(children: list[Child], console: Console, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Send SIGTERM to every running child, wait up to `timeout`, then SIGKILL their process groups."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            console.line("runall", f"{child.name} did not stop within {timeout:.0f} s; killing it")
        _kill_group(child)
        child.process.wait()


def _kill_group(child: Child) -> None:
    """SIGKILL whatever is left in the child's process group (its own workers included)."""
    try:
        os.killpg(child.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already empty


def first_dead(children: list[Child]) -> Child | None:
    """Return a child that has exited, or None while all run."""
    return next((child for child in children if child.process.poll() is not None), None)


def web_answers(host: str, port: int) -> bool:
    """Return True when an HTTP request to the web server gets a response that is not a server error."""
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", "/admin/login/")
        response = connection.getresponse()
        response.read()
        return response.status < 500  # nginx answers 502 until an app server is up
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def wait_until_ready(endpoints: list[tuple[str, int]], children: list[Child], stop: threading.Event) -> str | None:
    """Wait until every web endpoint answers, in order; return why not (a child died, a timeout) or None.

    In order: nginx is asked only once the app servers answer, so it never marks them failed.
    """
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    waiting = list(endpoints)
    while not stop.is_set():
        dead = first_dead(children)
        if dead:
            return f"{dead.name} exited unexpectedly with status {dead.process.returncode}"
        while waiting and web_answers(*waiting[0]):
            waiting.pop(0)
        if not waiting:
            return None
        if time.monotonic() > deadline:
            host, port = waiting[0]
            return f"web did not answer HTTP on {host}:{port} within {READY_TIMEOUT_SECONDS:.0f} s"
        stop.wait(0.3)
    return None


def login_lines(path: Path | None) -> list[str]:
    """Return the `admin=` and `card=` lines of the logins file (none when it is missing)."""
    if path is None or not path.is_file():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip().startswith(LOGIN_PREFIXES)]


def announce(host: str, port: int, logins: Path | None, console: Console) -> None:
    """Print the URLs and the demo logins."""
    console.line("runall", f"atmsite is running at http://{host}:{port}/ (staff: http://{host}:{port}/admin/)")
    lines = login_lines(logins)
    if not lines and logins is not None:
        console.line("runall", f"no demo logins in {logins} (run `make demo`)")
    for line in lines:
        console.line("runall", line)
    console.line("runall", "press Ctrl-C to stop")


def supervise(children: list[Child], stop: threading.Event) -> Child | None:
    """Wait for a stop request or a child's death; return the dead child, if any."""
    while not stop.wait(0.3):
        dead = first_dead(children)
        if dead:
            return dead
    return None


def run(host: str, port: int, logins: Path | None, console: Console, proxy: Proxy | None = None,
        celery: bool = True) -> int:
    """Start everything, announce it when ready, supervise, stop; return the exit status."""
    if proxy is not None:
        problem = proxy_problem(celery)
        if problem:
            console.line("runall", f"cannot serve: {problem}")
            return 2
        proxy_prepare(host, port, proxy)
    stop = threading.Event()
    received: list[str] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only set flags here: the handler may interrupt the main thread while it holds the console lock.
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if celery:
        prepare_broker_folders()
    children = start_children(child_commands(host, port, proxy, celery), console)
    endpoints = [("127.0.0.1", app_port) for app_port in proxy.app_ports] if proxy else []
    problem = wait_until_ready([*endpoints, (host, port)], children, stop)
    if problem is None and not stop.is_set():
        announce(host, port, logins, console)
        dead = supervise(children, stop)
        if dead:
            problem = f"{dead.name} exited unexpectedly with status {dead.process.returncode}"
    if received:
        console.line("runall", f"{received[0]} received; stopping")
    elif problem:
        console.line("runall", f"{problem}; stopping the others")
    stop_children(children, console)
    console.line("runall", "all stopped")
    return 1 if problem else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the site."""
    parser = argparse.ArgumentParser(prog="python -m atmsite.runall", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--logins", type=Path, default=None, help="File with admin=... and card=... lines.")
    parser.add_argument("--app-ports", type=int, nargs="+", default=None, metavar="PORT",
                        help="Run one app server per port on 127.0.0.1 behind nginx on --host/--port.")
    parser.add_argument("--runtime-dir", type=Path, default=DEFAULT_RUNTIME_DIR,
                        help="nginx's configuration, pid, logs and temporary files (with --app-ports).")
    parser.add_argument("--without-celery", action="store_true", help="Run the web tier only (no worker, no beat).")
    args = parser.parse_args(argv)
    proxy = None
    if args.app_ports:
        binary = nginx.nginx_binary()
        if binary is None:
            parser.error("--app-ports needs nginx (Debian: apt-get install nginx)")
        if args.port in args.app_ports or len(set(args.app_ports)) != len(args.app_ports):
            parser.error("nginx's --port and the --app-ports must all differ")
        proxy = Proxy(tuple(args.app_ports), args.runtime_dir.resolve(), binary)
    return run(args.host, args.port, args.logins, Console(sys.stdout), proxy, celery=not args.without_celery)


if __name__ == "__main__":
    sys.exit(main())
