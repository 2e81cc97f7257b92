"""The production shape (`make serve`): nginx in front of two app servers on one PostgreSQL database.

One deployment for the module, started as `make serve` starts it (`python -m atmsite.runall
--app-ports A B`, here without Celery): clients that trickle their request headers over many
connections do not keep anyone else from being served through nginx (while they do stop an app
server reached directly), bodies over the limit are refused at the door, a client's own
X-Forwarded-For is not believed, and a session opened on one app server is the same session on
the other: the web tier keeps no state of its own.
"""

from __future__ import annotations

import ast
import http.cookiejar
import os
import runpy
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from atmsite.runall import GUNICORN_CONFIG, gunicorn_command
from tests.faults.stack import (
    CSRF_RE,
    ROOT,
    Card,
    database_drop,
    database_recreate,
    database_url,
    free_port,
    manage,
    site_populate,
    site_prepare,
    stop_process,
    wait_until,
)
from tests.support.deployment import deployment_env

pytestmark = [pytest.mark.postgres, pytest.mark.nginx]

# Named after the suite's own database (atmsite_proxy beside atmsite), so two suites on one server do not meet.
PROXY_DATABASE = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", "")).path.strip("/") + "_proxy"
SLOW_CONNECTIONS = 24
HEADER_TIMEOUT_SECONDS = 10  # client_header_timeout in deploy/nginx/atmsite.conf.in


@dataclass(frozen=True)
class Served:
    """The running deployment: nginx's URL, the app servers' URLs, its environment and a card."""

    front: str
    apps: tuple[str, str]
    env: dict[str, str]
    card: Card
    log: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Start nginx + two app servers on a fresh database, as `make serve` does; stop them afterwards."""
    url = database_url(PROXY_DATABASE)
    database_recreate(url)
    env = deployment_env(database_url=url)
    site_prepare(env)
    cards, _ledger = site_populate(env, 1)
    base = tmp_path_factory.mktemp("serve")
    front_port, app_ports = free_port(), (free_port(), free_port())
    log = base / "runall.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "atmsite.runall", "--host", "127.0.0.1", "--port", str(front_port),
             "--app-ports", *map(str, app_ports), "--runtime-dir", str(base / "nginx"), "--without-celery"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "atmsite is running at" in log.read_text() or process.poll() is not None,
                   f"make serve to start (log: {log})", 60)
        assert process.poll() is None, log.read_text()
        yield Served(f"http://127.0.0.1:{front_port}", tuple(f"http://127.0.0.1:{p}" for p in app_ports),  # type: ignore[arg-type]
                     env, cards[0], log)
    finally:
        stop_process(process)
        database_drop(url)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _get(opener: urllib.request.OpenerDirector, url: str, timeout: float = 10) -> tuple[int, str, str]:
    """Return (status, final URL, body) of a GET, following redirects."""
    with opener.open(url, timeout=timeout) as response:
        return response.status, response.geturl(), response.read().decode()


def _login(opener: urllib.request.OpenerDirector, base: str, card: Card, **headers: str) -> str:
    """Log in with card and PIN at `base`; return the URL the browser ends on."""
    _status, _url, page = _get(opener, base + "/")
    csrf = CSRF_RE.search(page)
    assert csrf, page[:500]
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf.group(1), "card_number": card.pan, "pin": card.pin})
    request = urllib.request.Request(base + "/", data=data.encode(), headers=headers)
    with opener.open(request, timeout=10) as response:
        return response.geturl()


class SlowClients:
    """Connections that send a request line and then one header byte at a time, every `interval` seconds."""

    def __init__(self, base: str, count: int, interval: float = 0.5) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sockets = [socket.create_connection((host, int(port)), timeout=5) for _ in range(count)]
        self.closed_by_server: set[int] = set()
        self.stop, self.interval = threading.Event(), interval
        for sock in self.sockets:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stop.wait(self.interval):
            for number, sock in enumerate(self.sockets):
                if number in self.closed_by_server:
                    continue
                try:
                    sock.sendall(b"a")
                except OSError:
                    self.closed_by_server.add(number)

    def wait_until_all_closed_by_server(self, seconds: float) -> None:
        """Wait until the server has closed every slow connection (a send fails or a read sees its end)."""
        def all_closed() -> bool:
            for number, sock in enumerate(self.sockets):
                if number in self.closed_by_server:
                    continue
                sock.setblocking(False)
                try:
                    sock.recv(4096)  # an answer (408) or the end of the stream: the server gave up on it
                    self.closed_by_server.add(number)
                except BlockingIOError:
                    pass
                except OSError:
                    self.closed_by_server.add(number)
                finally:
                    sock.setblocking(True)
            return len(self.closed_by_server) == len(self.sockets)

        wait_until(all_closed, f"the server to close {len(self.sockets)} slow connections", seconds)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def slow_clients() -> Iterator[list[SlowClients]]:
    started: list[SlowClients] = []
    yield started
    for clients in started:
        clients.close()


def test_slow_clients_on_many_connections_do_not_keep_others_from_being_served(served, slow_clients):
    slow = SlowClients(served.front, SLOW_CONNECTIONS)
    slow_clients.append(slow)
    time.sleep(1)  # the slow requests are in flight: several header bytes sent, none complete

    # Meanwhile a customer logs in, sees the balance and gets the static files, through nginx.
    opener = _opener()
    assert _login(opener, served.front, served.card).endswith("/balance/")
    for _ in range(6):
        status, url, body = _get(opener, served.front + "/balance/", timeout=5)
        assert (status, url.removeprefix(served.front)) == (200, "/balance/") and "Balance" in body
    with urllib.request.urlopen(served.front + "/static/css/atm.css", timeout=5) as response:
        assert response.status == 200 and response.headers["Server"] == "nginx"
        assert response.headers["Cache-Control"] == "max-age=2592000"

    # nginx gives up on each slow connection after its header timeout; the slow clients gained nothing.
    slow.wait_until_all_closed_by_server(HEADER_TIMEOUT_SECONDS + 10)


def test_the_same_slow_clients_stop_an_app_server_reached_directly(served, slow_clients, tmp_path):
    """Why nginx is there: a few slow connections reaching an app server itself leave it deaf.

    (The app servers listen on 127.0.0.1 only; nothing but nginx reaches them in a deployment.) The
    app server here has the deployment's settings with one worker process: each worker holds a
    thread per slow connection it accepted, and the kernel deals connections to several workers
    unevenly (one may take them all while another stays free), so with one worker the outcome does
    not depend on that dealing. A deployment's W workers fall the same way to W times as many.
    """
    threads = int(runpy.run_path(str(GUNICORN_CONFIG))["threads"])
    port = free_port()
    log = tmp_path / "app.log"
    with log.open("wb") as out:
        process = subprocess.Popen(gunicorn_command(f"127.0.0.1:{port}", access_log=False), cwd=ROOT,
                                   env={**served.env, "GUNICORN_WORKERS": "1"}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    app = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(app) or process.poll() is not None, f"the app server to start (log: {log})", 60)
        assert process.poll() is None, log.read_text()
        slow_clients.append(SlowClients(app, threads + 2))
        time.sleep(2)
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            urllib.request.urlopen(app + "/", timeout=3).read()
    finally:
        stop_process(process)


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def test_it_refuses_bodies_over_the_limit_at_the_door(served):
    request = urllib.request.Request(served.front + "/", data=b"x" * 100_000)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413
    assert refused.value.headers["Server"] == "nginx"


def test_a_session_opened_on_one_app_server_is_the_same_on_the_other(served):
    first, second = served.apps
    opener = _opener()
    assert _login(opener, first, served.card) == first + "/balance/"

    status, url, body = _get(opener, second + "/balance/")
    assert (status, url) == (200, second + "/balance/") and served.card.number in body

    # Logging out on the second ends the session on the first as well.
    _status, _url, page = _get(opener, second + "/balance/")
    csrf = CSRF_RE.search(page)
    assert csrf
    logout = urllib.request.Request(second + "/logout/",
                                    data=urllib.parse.urlencode({"csrfmiddlewaretoken": csrf.group(1)}).encode())
    opener.open(logout, timeout=10).read()
    _status, url, _body = _get(opener, first + "/balance/")
    assert url == first + "/"


def _login_addresses(env: dict[str, str]) -> list[str]:
    """Return the client address of every login attempt so far, oldest first."""
    out = manage(env, "shell", "-c", "from accounts.models import LoginAttempt\n"
                 "print(list(LoginAttempt.objects.order_by('pk').values_list('address', flat=True)))")
    return ast.literal_eval(out.strip().splitlines()[-1])


def test_a_client_cannot_choose_the_address_its_login_is_counted_under(served):
    before = _login_addresses(served.env)
    _login(_opener(), served.front, served.card, **{"X-Forwarded-For": "203.0.113.9"})
    assert _login_addresses(served.env)[len(before):] == ["127.0.0.1"]
