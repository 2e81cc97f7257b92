"""A production-like ATM deployment for fault tests: its own database, gunicorn, Celery, HTTP customers.

The servers run as child processes with DEBUG off and fresh random secrets, as deployed. The test
process only talks HTTP to them, controls their dependencies (PostgreSQL, Redis) and reads the
outcome from the database afterwards through `manage.py`.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.deployment import deployment_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TOKEN_RE = re.compile(r'name="token" value="([0-9a-f]{32})"')
CONFIRMATION_RE = re.compile(r'name="confirmation" value="([^"]+)"')
RECEIPT_RE = re.compile(r"^/receipt/(\d+)/$")
REPLAYED_TEXT = "no money moved again"
OPERATIONS = ("withdraw", "deposit", "transfer")
LEDGER_KIND = {"withdraw": "withdrawal", "deposit": "deposit", "transfer": "transfer_out"}
PIN = "8203"
T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, seconds: float) -> T:
    """Poll `condition` until it returns something truthy; fail the test after `seconds` (a deadline)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds:.0f} s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now (and that nothing of this run took
    before): any the system offers, or one of ATMSITE_TEST_PORTS ("8160-8199") on a machine where each
    user of the server has a range of its own."""
    span = os.environ.get("ATMSITE_TEST_PORTS")
    candidates = [0]
    if span:
        low, high = (int(part) for part in span.split("-"))
        candidates = [port for port in range(low, high + 1) if port not in _PORTS_GIVEN]
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            _PORTS_GIVEN.add(probe.getsockname()[1])
            return probe.getsockname()[1]
    pytest.fail(f"no free port in ATMSITE_TEST_PORTS={span}")


_PORTS_GIVEN: set[int] = set()


def missing_tool(problem: str) -> None:
    """Fail in CI, where every tool must be present; skip elsewhere, saying what is missing."""
    if IN_CI:
        pytest.fail(f"CI must provide this: {problem}", pytrace=False)
    pytest.skip(problem)


# --- Database and site ----------------------------------------------------------------------------

def database_url(name: str, base: str | None = None) -> str:
    """Return `base` (default: DATABASE_URL, the suite's PostgreSQL server) naming database `name`."""
    parsed = urllib.parse.urlsplit(base or os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(parsed._replace(path=f"/{name}"))


def psql(url: str, sql: str) -> str:
    """Run one SQL statement through psql on the server of `url` (its maintenance database)."""
    done = subprocess.run(
        ["psql", database_url("postgres", url), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    if done.returncode:
        pytest.fail(f"psql failed on {sql!r}: {done.stderr.strip()}")
    return done.stdout


def database_name(url: str) -> str:
    return urllib.parse.urlsplit(url).path.lstrip("/")


def database_recreate(url: str) -> None:
    """Drop the database of `url` if it exists and create it empty."""
    database_drop(url)
    psql(url, f'CREATE DATABASE "{database_name(url)}"')


def database_drop(url: str) -> None:
    psql(url, f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def site_env(database: str, broker: str) -> dict[str, str]:
    """Return a deployment's environment (tests.support.deployment) on this database and broker."""
    return deployment_env(database_url=database, CELERY_BROKER_URL=broker)


def manage(env: dict[str, str], *args: str) -> str:
    """Run `manage.py <args>` in the deployment's environment; fail the test when it fails; return its output."""
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode:
        pytest.fail(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def site_prepare(env: dict[str, str]) -> None:
    """Migrate the empty database and collect the static files, as a deployment does."""
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")


@dataclass(frozen=True)
class Card:
    """A card the test created: what a customer types at the ATM, and its ids."""

    pan: str
    pin: str
    number: str
    card_id: int


@dataclass(frozen=True)
class Ledger:
    """The bank's money at one moment: all balances summed, every ledger entry, and verify_ledger's verdict."""

    total_minor: int
    entries: tuple[tuple[int, str, int, str], ...]  # (pk, kind, amount_minor, idempotency_key)
    verification: str

    @property
    def last_id(self) -> int:
        return self.entries[-1][0] if self.entries else 0

    def since(self, earlier: Ledger) -> list[tuple[int, str, int, str]]:
        """Return the entries appended after `earlier` was read."""
        return [entry for entry in self.entries if entry[0] > earlier.last_id]

    def sum_since(self, earlier: Ledger, kind: str) -> int:
        return sum(amount for _, entry_kind, amount, _ in self.since(earlier) if entry_kind == kind)


# Runs in `manage.py shell` after a script that sets `extra`; prints one JSON line.
_LEDGER_SCRIPT = """
import io, json
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from accounts.models import Account
from transactions.models import LedgerEntry
report = io.StringIO()
try:
    call_command("verify_ledger", stdout=report, stderr=report)
except CommandError as exc:
    report.write(str(exc))
entries = list(LedgerEntry.objects.order_by("pk").values_list("pk", "kind", "amount_minor", "idempotency_key"))
total = Account.objects.aggregate(total=Sum("balance_minor"))["total"] or 0
print(json.dumps({"total": total, "entries": entries, "verification": report.getvalue().strip(), **extra}))
"""

_CARDS_SCRIPT = """
from accounts.models import Account
from tests.factories import funded_card
holders = [funded_card(balance_minor={balance}, pin="{pin}") for _ in range({count})]
Account.objects.filter(pk__in=[h.account.pk for h in holders]).update(daily_withdrawal_limit_minor=10**12)
extra = {{"cards": [[h.pan, h.pin, h.account.number, h.card.pk] for h in holders]}}
"""


def _shell(env: dict[str, str], script: str) -> dict:  # type: ignore[type-arg]
    """Run `script` + the ledger read-out in `manage.py shell`; return the JSON it printed."""
    data = json.loads(manage(env, "shell", "-c", script + _LEDGER_SCRIPT).strip().splitlines()[-1])
    data["ledger"] = Ledger(data.pop("total"), tuple(tuple(entry) for entry in data.pop("entries")),
                            data.pop("verification"))
    return data


def site_populate(env: dict[str, str], count: int, balance_minor: int = 100_000_000) -> tuple[list[Card], Ledger]:
    """Create `count` customers with a funded account and a card each; return the cards and the ledger then."""
    data = _shell(env, _CARDS_SCRIPT.format(balance=balance_minor, pin=PIN, count=count))
    return [Card(*row) for row in data["cards"]], data["ledger"]


def ledger_read(env: dict[str, str]) -> Ledger:
    """Verify the deployment's ledger (verify_ledger) and read all balances and entries."""
    return _shell(env, "extra = {}\n")["ledger"]


# --- Server processes -----------------------------------------------------------------------------

def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask a server we started to stop (SIGTERM), and kill it when it does not within 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 2) -> Iterator[str]:
    """Run gunicorn with `workers` sync workers on a free port; yield its base URL."""
    base = f"http://127.0.0.1:{free_port()}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "atmsite.wsgi", "-b", base.removeprefix("http://"), "-w", str(workers),
             "--access-logfile", "/dev/null"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _answers(base + "/"), f"gunicorn to answer (log: {log})", 60)
        yield base
    finally:
        stop_process(process)


@contextmanager
def celery_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run one Celery worker (solo pool) of the deployment; yield its process."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "atmsite", "worker", "--pool", "solo", "--loglevel", "WARNING",
             "--without-mingle", "--without-gossip", "--hostname", f"faults-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop_process(process)


# --- Customers ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attempt:
    """One HTTP request of a customer: when it started and ended, and how it went.

    outcome is "ok"; "error" (a 4xx/5xx status or no answer at all) or "refused" (a page that is
    not the one a working ATM shows next, such as the form again with an error on it).
    """

    what: str
    started: float
    ended: float
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class Receipt:
    """A receipt a customer was shown: the operation and form token it answers, and its ledger entry."""

    kind: str
    card_id: int
    token: str
    amount_minor: int
    entry_id: int
    replayed: bool
    started: float
    posts: int

    @property
    def idempotency_key(self) -> str:
        return f"atm:{self.card_id}:{self.token}"


@dataclass
class Submission:
    """A filled-in operation form; a failed submission is sent again unchanged (same token)."""

    kind: str
    form: dict[str, str]
    posts: int = 0


class AtmCustomer:
    """One person at the web ATM, with their own cookies, doing random withdrawals, deposits, transfers."""

    def __init__(self, base: str, card: Card, payees: list[str], seed: int) -> None:
        self.base, self.card, self.payees, self.rng = base, card, payees, random.Random(seed)
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.attempts: list[Attempt] = []
        self.receipts: list[Receipt] = []
        self.pending: Submission | None = None

    def _request(self, path: str, form: dict[str, str] | None = None) -> tuple[float, str, str, str]:
        """Return (start time, final path after redirects, body, problem); problem is empty on success."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        started = time.monotonic()
        try:
            with self.opener.open(self.base + path, data=data, timeout=15) as response:
                return started, urllib.parse.urlsplit(response.geturl()).path, response.read().decode(), ""
        except urllib.error.HTTPError as exc:
            return started, "", "", f"HTTP {exc.code}"
        except (OSError, http.client.HTTPException) as exc:
            return started, "", "", f"{type(exc).__name__}: {exc}"

    def _record(self, what: str, started: float, problem: str, expected: bool, path: str) -> bool:
        outcome = "error" if problem else ("ok" if expected else "refused")
        detail = problem or ("" if expected else f"landed on {path}")
        self.attempts.append(Attempt(what, started, time.monotonic(), outcome, detail))
        return outcome == "ok"

    def login(self) -> bool:
        """Log in with the card number and PIN; return whether the balance page followed."""
        started, path, page, problem = self._request("/")
        csrf = CSRF_RE.search(page)
        if not self._record("login form", started, problem, csrf is not None, path) or csrf is None:
            return False
        form = {"csrfmiddlewaretoken": csrf.group(1), "card_number": self.card.pan, "pin": self.card.pin}
        started, path, _, problem = self._request("/", form)
        return self._record("login", started, problem, path == "/balance/", path)

    def _new_submission(self) -> Submission | None:
        kind = self.rng.choice(OPERATIONS)
        started, path, page, problem = self._request(f"/{kind}/")
        csrf, token = CSRF_RE.search(page), TOKEN_RE.search(page)
        if not self._record(f"{kind} form", started, problem, bool(csrf and token), path):
            return None
        form = {"csrfmiddlewaretoken": csrf.group(1), "token": token.group(1),  # type: ignore[union-attr]
                "amount": str(self.rng.randint(1, 5) * 10)}
        if kind == "transfer":  # the first step shows the confirmation page, whose token and confirmation move money
            form["to_account"] = self.rng.choice(self.payees)
            started, path, page, problem = self._request("/transfer/", form)
            token, confirmation = TOKEN_RE.search(page), CONFIRMATION_RE.search(page)
            if not self._record("transfer confirmation", started, problem, bool(token and confirmation), path):
                return None
            form.update(token=token.group(1), confirmation=confirmation.group(1))  # type: ignore[union-attr]
        if kind in ("withdraw", "transfer"):
            form["pin"] = self.card.pin
        return Submission(kind, form)

    def _submit(self, submission: Submission) -> bool:
        submission.posts += 1
        started, path, body, problem = self._request(f"/{submission.kind}/", submission.form)
        receipt = RECEIPT_RE.match(path)
        ok = self._record(f"{submission.kind} post", started, problem, receipt is not None, path)
        if problem:
            return False  # keep it pending: the customer presses the button again
        self.pending = None
        if receipt:
            self.receipts.append(Receipt(
                submission.kind, self.card.card_id, submission.form["token"],
                int(submission.form["amount"]) * 100, int(receipt.group(1)), REPLAYED_TEXT in body, started,
                submission.posts))
        return ok

    def step(self) -> bool:
        """Resubmit the pending operation, else start a new one; return whether the request worked."""
        if self.pending is None:
            self.pending = self._new_submission()
            if self.pending is None:
                return False
        return self._submit(self.pending)

    def run(self, stop: threading.Event, give_up_at: float) -> None:
        """Operate until `stop` is set and nothing is left pending, or until `give_up_at`."""
        while time.monotonic() < give_up_at and not (stop.is_set() and self.pending is None):
            if not self.step():
                time.sleep(0.1)


def customers_logged_in(base: str, cards: list[Card]) -> list[AtmCustomer]:
    """Return one logged-in customer per card; each transfers to the others' accounts."""
    customers = []
    for seed, card in enumerate(cards):
        customer = AtmCustomer(base, card, [c.number for c in cards if c is not card], seed)
        assert customer.login(), customer.attempts
        customers.append(customer)
    return customers


class Traffic:
    """Customers operating at the same time, one thread each, until the block ends (or a hard limit)."""

    def __init__(self, customers: list[AtmCustomer], limit_seconds: float) -> None:
        self.customers, self.stop = customers, threading.Event()
        self.give_up_at = time.monotonic() + limit_seconds
        self.threads = [threading.Thread(target=c.run, args=(self.stop, self.give_up_at), daemon=True)
                        for c in customers]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            # A customer gives up at give_up_at at the latest, plus one request's timeout.
            thread.join(timeout=max(self.give_up_at - time.monotonic(), 0) + 20)
        assert not any(thread.is_alive() for thread in self.threads), "a customer is stuck"

    def receipts(self) -> list[Receipt]:
        return [receipt for customer in self.customers for receipt in list(customer.receipts)]

    def attempts(self, outcome: str) -> list[Attempt]:
        return [a for customer in self.customers for a in list(customer.attempts) if a.outcome == outcome]

    def unfinished(self) -> list[Submission]:
        """Return the operations a customer submitted but never saw a receipt or an answer for."""
        return [customer.pending for customer in self.customers if customer.pending is not None]

    def wait_for_receipts(self, *, after: float, each: int, seconds: float) -> None:
        """Wait until every customer has `each` receipts for operations started after `after`."""
        def done() -> bool:
            return all(sum(r.started >= after for r in list(c.receipts)) >= each for c in self.customers)

        wait_until(done, f"{each} receipts per customer", seconds)


def posting_problems(before: Ledger, after: Ledger, receipts: list[Receipt]) -> list[str]:
    """Return every way the entries appended since `before` differ from the receipts customers saw.

    Each form token must have posted exactly once (a transfer: its out leg and its in leg), every
    receipt must name that posting, and no money may have moved without a receipt.
    """
    new = after.since(before)
    problems = [f"{key} posted {n} times" for key, n in Counter(e[3] for e in new).items() if n > 1]
    by_key = {key: (pk, kind, amount) for pk, kind, amount, key in new}
    shown = {r.idempotency_key for r in receipts}
    problems += [f"{key}: money moved, no receipt" for key in by_key.keys() - shown if not key.endswith("/in")]
    for receipt in receipts:
        sign = 1 if receipt.kind == "deposit" else -1
        expected = (receipt.entry_id, LEDGER_KIND[receipt.kind], sign * receipt.amount_minor)
        if by_key.get(receipt.idempotency_key) != expected:
            problems.append(f"{receipt}: ledger has {by_key.get(receipt.idempotency_key)}")
        in_leg = by_key.get(receipt.idempotency_key + "/in")
        if receipt.kind == "transfer" and in_leg is not None and in_leg[1:] != ("transfer_in", receipt.amount_minor):
            problems.append(f"{receipt}: in leg is {in_leg}")
        if receipt.kind == "transfer" and in_leg is None:
            problems.append(f"{receipt}: no in leg")
    return problems


# --- Dependencies: the machine's PostgreSQL cluster and a private Redis ---------------------------

@dataclass(frozen=True)
class Outage:
    """When a dependency went away and when it was back (time.monotonic() seconds)."""

    began: float
    back: float

    @property
    def seconds(self) -> float:
        return self.back - self.began


class PostgresCluster:
    """The machine's PostgreSQL cluster (Debian's pg_ctlcluster), as CI runs it."""

    def __init__(self, url: str) -> None:
        versions = sorted(os.listdir("/etc/postgresql"))
        self.url, self.command = url, ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main"]

    def ready(self) -> bool:
        return subprocess.run(["pg_isready", "-q", "-d", self.url], timeout=10).returncode == 0

    def ensure_up(self) -> None:
        """Start the cluster when it is down and wait until it accepts connections."""
        if not self.ready():
            subprocess.run([*self.command, "start"], capture_output=True, timeout=60)
        wait_until(self.ready, "PostgreSQL to accept connections", 60)

    def restart(self, hold_seconds: float) -> Outage:
        """Stop the cluster (fast mode: clients cut off), keep it down a while, start it; return the outage."""
        began = time.monotonic()
        try:
            subprocess.run([*self.command, "stop"], check=True, capture_output=True, timeout=60)
            time.sleep(hold_seconds)
        finally:
            self.ensure_up()
        return Outage(began, time.monotonic())


class RedisServer:
    """A redis-server of our own on a free port, so the machine's shared Redis is never touched."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir, self.pidfile = free_port(), workdir, workdir / "redis.pid"
        self.url = f"redis://127.0.0.1:{self.port}/5"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        """Start the server (no persistence: a restart comes back empty) and wait until it answers."""
        self.pidfile.unlink(missing_ok=True)
        subprocess.run(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "yes", "--pidfile", str(self.pidfile), "--dir", str(self.workdir),
             "--logfile", str(self.workdir / "redis.log")], check=True, capture_output=True, timeout=30)
        wait_until(self.answers, f"redis-server on port {self.port}", 30)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL, as a crash) and wait until its port is closed."""
        pid = wait_until(lambda: self.pidfile.is_file() and self.pidfile.read_text().strip(), "redis pidfile", 10)
        os.kill(int(pid), signal.SIGKILL)
        wait_until(lambda: not self.answers(), f"redis-server on port {self.port} to go away", 10)
        self.pidfile.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.pidfile.is_file():
            self.kill()
