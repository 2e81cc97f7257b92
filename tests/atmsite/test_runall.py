"""`python -m atmsite.runall`: starts web, worker and beat, announces the site, stops them all cleanly."""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = ("web", "worker", "beat")
STARTED = re.compile(r"^runall \| started (\w+) \(pid (\d+)\)")

SETTINGS = """
from atmsite.settings import *  # noqa: F403

# The embedded broker's folders inside this test's temporary directory, not the checkout's var/.
CELERY_BROKER_TRANSPORT_OPTIONS = {{
    "data_folder_in": {queue!r}, "data_folder_out": {queue!r},
    "processed_folder": {processed!r}, "control_folder": {control!r}, "store_processed": False,
}}
"""


@pytest.fixture(scope="module")
def site_env(tmp_path_factory) -> dict[str, str]:
    """Return the environment of a migrated throwaway site (SQLite, filesystem broker, DEBUG on)."""
    base = tmp_path_factory.mktemp("runall")
    celery = base / "celery"
    (base / "runall_test_settings.py").write_text(SETTINGS.format(
        queue=str(celery / "queue"), processed=str(celery / "processed"), control=str(celery / "control")))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ATM_", "CELERY_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "runall_test_settings", "PYTHONPATH": f"{base}{os.pathsep}{ROOT}",
        "DJANGO_ENV_FILE": "", "DJANGO_DEBUG": "true", "DATABASE_URL": f"sqlite:///{base / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://", "DJANGO_MEDIA_ROOT": str(base / "media"),
        **{name: secrets.token_urlsafe(48) for name in ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY")},
    })
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   timeout=120)
    (base / "logins.txt").write_text(
        "card=4000001234567899 pin=8264\nadmin=admin password=demo-secret-1234567890 url=/admin/\n")
    env["TEST_LOGINS"] = str(base / "logins.txt")
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Runall:
    """A running `python -m atmsite.runall` whose output lines are read in the background."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        argv = [sys.executable, "-m", "atmsite.runall", "--host", "127.0.0.1", "--port", str(port),
                "--logins", env["TEST_LOGINS"]]
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.pids: dict[str, int] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        """Return the first output line (seen so far or still to come) matching the regex `pattern`."""
        deadline = time.monotonic() + timeout
        found = next((line for line in self.seen if re.search(pattern, line)), None)
        while found is None and time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if match := STARTED.match(line):
                self.pids[match.group(1)] = int(match.group(2))
            if re.search(pattern, line):
                found = line
        if found is None:
            pytest.fail(f"no line matching {pattern!r} within {timeout} s; output:\n" + "\n".join(self.seen))
        return found

    def close(self) -> None:
        """Kill whatever is left (only after a failed test)."""
        for pid in [self.process.pid, *self.pids.values()]:
            if _group_alive(pid):
                os.killpg(pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def start_runall(site_env):
    started: list[Runall] = []

    def start() -> tuple[Runall, int]:
        port = _free_port()
        started.append(Runall(site_env, port))
        return started[-1], port

    yield start
    for runall in started:
        runall.close()


def test_it_serves_the_site_prints_logins_and_stops_everything_on_ctrl_c(start_runall):
    runall, port = start_runall()
    runall.wait_for(re.escape(f"runall | atmsite is running at http://127.0.0.1:{port}/"))
    runall.wait_for(r"^runall \| card=4000001234567899 pin=8264$")
    runall.wait_for(r"^runall \| admin=admin password=demo-secret-1234567890 url=/admin/$")
    runall.wait_for(r"^worker \| .*celery@\S+ ready\.")
    runall.wait_for(r"^  beat \| .*beat: Starting")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=10) as response:
        assert response.status == 200
    assert set(runall.pids) == set(CHILDREN)

    runall.process.send_signal(signal.SIGINT)
    assert runall.process.wait(timeout=25) == 0
    runall.wait_for(r"runall \| all stopped", timeout=5)
    assert [name for name, pid in runall.pids.items() if _group_alive(pid)] == []


def test_it_stops_the_others_and_fails_when_a_child_dies(start_runall):
    runall, port = start_runall()
    runall.wait_for(re.escape(f"atmsite is running at http://127.0.0.1:{port}/"))
    os.killpg(runall.pids["beat"], signal.SIGKILL)
    runall.wait_for(r"runall \| beat exited unexpectedly with status -9; stopping the others")
    assert runall.process.wait(timeout=25) == 1
    assert [name for name, pid in runall.pids.items() if _group_alive(pid)] == []


@pytest.mark.nginx
def test_the_production_shape_refuses_to_keep_state_outside_postgresql(site_env, tmp_path):
    """`make serve` on SQLite would give each machine its own sessions and throttles: it refuses to start."""
    argv = [sys.executable, "-m", "atmsite.runall", "--port", str(_free_port()), "--app-ports", str(_free_port()),
            str(_free_port()), "--runtime-dir", str(tmp_path / "nginx")]
    done = subprocess.run(argv, cwd=ROOT, env=site_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot serve: the app servers share sessions, throttles and idempotency keys through the database: " \
           "set DATABASE_URL=postgres://..." in done.stdout
    assert not (tmp_path / "nginx").exists()
