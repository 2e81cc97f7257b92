"""Load test of the real web stack: gunicorn + PostgreSQL under N concurrent simulated customers.

Each simulated customer logs in with card + PIN over HTTP on 127.0.0.1 and then loops over a
realistic mix (40% balance checks, 20% withdrawals, 20% deposits, 20% transfers), each operation
a GET of its form and a POST that redirects to a receipt (a transfer POSTs its first step, then the
PIN with the signed confirmation its confirmation page handed out). Like a person at an ATM, a customer
pauses between screens (--think, seconds drawn uniformly; default 0.25 to 1.0); `--think 0 0`
gives a closed loop that saturates the server and measures its capacity. Every level runs for a
fixed time.
Prints throughput, p50/p95/p99 latency of non-login requests, login latency and error counts,
then runs verify_ledger on the database.

With --via-proxy the customers go through the production shape instead of one gunicorn: nginx in
front of two app servers set up by deploy/gunicorn/atmsite.conf.py (`python -m atmsite.runall
--app-ports A B --without-celery`, what `make serve` starts), and the table ends with the targets:
p99 < 100 ms for non-login requests and 0 errors at 32 customers, login p50 < 150 ms.

A warm-up of a few seconds, not reported, comes first. Beside every level a prober asks for a
static file and a trivial view (favicon.ico's redirect: no session, no query) and the table
prints their p99 and the load average before and after the level: on a shared machine they show
how much of a figure is the machine's rather than the application's.

    .venv/bin/python benchmarks/atm_load.py [--clients 1 8 32] [--seconds 15] [--workers 4] [--think 0.25 1.0]
    .venv/bin/python benchmarks/atm_load.py --via-proxy [--clients 1 8 32] [--port 8765] [--app-ports A B]

To find where time goes: ATM_LOAD_DEBUG=1 prints each kind of request's p50/p99 and the load
generator's own CPU time per level on stderr; ATM_LOAD_DUMP=FILE appends every level's samples
(kind, seconds, status, start time) as a JSON line to FILE and, with --via-proxy, copies nginx's
access log to FILE.access.log (request time, app server time and app server of every request).
--set NAME=VALUE passes a setting to the app servers (GUNICORN_THREADS=2, ATM_PIN_VERIFY_CONCURRENCY=1).

Needs PostgreSQL at 127.0.0.1:5432 (trust auth); uses its own database `atmsite_load`.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script: the checkout root goes on sys.path for the shared helpers of tests.support.
sys.path.insert(0, str(ROOT))
DB = "atmsite_load"
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TOKEN_RE = re.compile(r'name="token" value="([0-9a-f]{32})"')
CONFIRMATION_RE = re.compile(r'name="confirmation" value="([^"]+)"')
MIX = (("balance", 0.4), ("withdraw", 0.2), ("deposit", 0.2), ("transfer", 0.2))
# One timed request: (kind, seconds, HTTP status, wall-clock start).
Sample = tuple[str, float, int, float]


def _env(settings: list[str] | None = None) -> dict[str, str]:
    from tests.support.deployment import deployment_env

    extra = dict(setting.split("=", 1) for setting in settings or [])
    return deployment_env(database_url=f"postgres://postgres@127.0.0.1:5432/{DB}", **extra)


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def _prepare(env: dict[str, str], customers: int) -> list[tuple[str, str, str]]:
    """Create a fresh database with `customers` funded cards; return (pan, pin, account number) triples."""
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], check=True)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f"CREATE DATABASE {DB}"], check=True)
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "collectstatic", "--noinput", "-v0")
    script = (
        "from tests.factories import funded_card\n"
        "from accounts.models import Account\n"
        f"for i in range({customers}):\n"
        "    h = funded_card(balance_minor=10**9, pin='8203')\n"
        "    Account.objects.filter(pk=h.account.pk).update(daily_withdrawal_limit_minor=10**12)\n"
        "    print('CARD', h.pan, h.pin, h.account.number)\n"
    )
    out = _manage(env, "shell", "-c", script)
    return [tuple(line.split()[1:]) for line in out.splitlines() if line.startswith("CARD ")]  # type: ignore[misc]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Customer:
    """One simulated ATM user with its own cookie jar."""

    def __init__(self, base: str, card: tuple[str, str, str], others: list[str], rng: random.Random,
                 think: tuple[float, float] = (0.0, 0.0)) -> None:
        self.base, (self.pan, self.pin, self.number), self.others, self.rng = base, card, others, rng
        self.think = think
        # Redirects are not followed: the receipt after a POST is its own request, timed on its own.
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())
        self.samples: list[Sample] = []

    def _request(self, kind: str, path: str, form: dict[str, str] | None = None) -> str:
        """Send one request and record its latency; follow a redirect as a separate timed request."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        start, location, wall = time.perf_counter(), None, time.time()
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                body, status = response.read().decode(), response.status
        except urllib.error.HTTPError as exc:
            body, status, location = "", exc.code, exc.headers.get("Location")
            if exc.code in (301, 302, 303):
                exc.read()
        except OSError:
            body, status = "", 599
        self.samples.append((kind, time.perf_counter() - start, status if status >= 400 or not location else 200, wall))
        if location:
            return self._request(kind + " page" if form is not None else kind, urllib.parse.urljoin("/", location))
        if self.think[1] > 0:
            time.sleep(self.rng.uniform(*self.think))  # the person reads the screen and types
        return body

    def login(self) -> None:
        page = self._request("login", "/")
        self._request("login", "/", {"csrfmiddlewaretoken": CSRF_RE.search(page).group(1),  # type: ignore[union-attr]
                                     "card_number": self.pan, "pin": self.pin})

    def operate(self) -> None:
        kind = self.rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        if kind == "balance":
            self._request(kind, "/balance/")
            return
        page = self._request(kind, f"/{kind}/")
        csrf, token = CSRF_RE.search(page), TOKEN_RE.search(page)
        if not (csrf and token):
            self.samples.append((kind, 0.0, 598, time.time()))  # the form did not render: count as an error
            return
        form = {"csrfmiddlewaretoken": csrf.group(1), "token": token.group(1), "amount": str(self.rng.randint(1, 5) * 10)}
        if kind == "transfer":  # the first step shows the confirmation page, whose token and confirmation move money
            form["to_account"] = self.rng.choice(self.others)
            page = self._request("transfer confirmation", "/transfer/", form)
            token, confirmation = TOKEN_RE.search(page), CONFIRMATION_RE.search(page)
            if not (token and confirmation):
                self.samples.append((kind, 0.0, 597, time.time()))  # the first step was refused: count as an error
                return
            form.update(token=token.group(1), confirmation=confirmation.group(1))
        if kind in ("withdraw", "transfer"):
            form["pin"] = self.pin
        body = self._request(kind, f"/{kind}/", form)
        if "Receipt" not in body:
            self.samples.append((kind, 0.0, 597, time.time()))  # the operation was refused: count as an error


def _client_process(base: str, cards: list, all_numbers: list[str], seconds: float, think: tuple[float, float],
                    queue: mp.Queue) -> None:
    import threading

    results: list[Sample] = []

    def run(card: tuple[str, str, str], seed: int) -> None:
        customer = Customer(base, card, [n for n in all_numbers if n != card[2]], random.Random(seed), think)
        customer.login()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            customer.operate()
        results.extend(customer.samples)

    threads = [threading.Thread(target=run, args=(card, i)) for i, card in enumerate(cards)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = os.times()
    queue.put((results, cpu.user + cpu.system))


# The same-run references: a static file (nginx alone, or whitenoise without the proxy) and a
# trivial Django view (favicon.ico's redirect: no session, no query), asked every REFERENCE_PAUSE
# seconds by a process of their own while the customers run. Their p99 shows what the machine
# and the server in front add at that moment, whatever the application does.
REFERENCES = (("static", "/static/favicon.svg"), ("view", "/favicon.ico"))
REFERENCE_PAUSE = 0.05
WARM_UP_SECONDS = 5.0


def _reference_process(base: str, seconds: float, queue: mp.Queue) -> None:
    opener = urllib.request.build_opener(_NoRedirect())
    samples: list[Sample] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for kind, path in REFERENCES:
            start, wall = time.perf_counter(), time.time()
            try:
                with opener.open(base + path, timeout=30) as response:
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as exc:
                exc.read()
                status = 200 if exc.code in (301, 302) else exc.code
            except OSError:
                status = 599
            samples.append((kind, time.perf_counter() - start, status, wall))
        time.sleep(REFERENCE_PAUSE)
    queue.put(samples)


def _run_level(base: str, cards: list, clients: int, seconds: float,
               think: tuple[float, float]) -> tuple[list[Sample], list[Sample]]:
    """Run `clients` customers for `seconds`, spread over up to 4 client processes, beside the reference
    prober; return the customers' samples and the references'."""
    procs_n = min(clients, 4)
    queue: mp.Queue = mp.Queue()
    reference_queue: mp.Queue = mp.Queue()
    chunks = [cards[i:clients:procs_n] for i in range(procs_n)]
    numbers = [c[2] for c in cards]
    procs = [mp.Process(target=_client_process, args=(base, chunk, numbers, seconds, think, queue)) for chunk in chunks]
    prober = mp.Process(target=_reference_process, args=(base, seconds, reference_queue))
    for proc in [*procs, prober]:
        proc.start()
    samples: list[Sample] = []
    generator_cpu = 0.0
    for _ in procs:
        chunk_samples, cpu = queue.get(timeout=seconds + 120)
        samples.extend(chunk_samples)
        generator_cpu += cpu
    references = reference_queue.get(timeout=seconds + 120)
    for proc in [*procs, prober]:
        proc.join()
    if os.environ.get("ATM_LOAD_DEBUG"):
        print(f"  load generator's CPU: {generator_cpu:.2f} s in {seconds:.0f} s ({procs_n} processes)", file=sys.stderr)
    if os.environ.get("ATM_LOAD_DUMP"):
        with open(os.environ["ATM_LOAD_DUMP"], "a") as dump:
            dump.write(json.dumps({"clients": clients, "samples": samples, "references": references,
                                   "generator_cpu_seconds": generator_cpu}) + "\n")
    return samples, references


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


P99_TARGET_MS, LOGIN_P50_TARGET_MS = 100.0, 150.0


def _report(clients: int, seconds: float, samples: list[Sample],
            references: list[Sample], load: tuple[float, float]) -> tuple[float, float, int]:
    ops = [s for s in samples if s[0] != "login" and s[1] > 0]
    logins = [s[1] for s in samples if s[0] == "login"]
    errors = sum(1 for s in samples if s[2] >= 400) + sum(1 for s in references if s[2] >= 400)
    reference_p99 = [_percentile([s[1] * 1000 for s in references if s[0] == kind], 99) for kind, _path in REFERENCES]
    if os.environ.get("ATM_LOAD_DEBUG"):
        for kind in sorted({s[0] for s in ops}):
            kind_lat = [s[1] * 1000 for s in ops if s[0] == kind]
            print(f"  {kind}: n={len(kind_lat)} p50={_percentile(kind_lat, 50):.1f} "
                  f"p99={_percentile(kind_lat, 99):.1f} max={max(kind_lat):.1f}", file=sys.stderr)
    lat = [s[1] * 1000 for s in ops]
    p99, login_p50 = _percentile(lat, 99), statistics.median(logins) * 1000
    print(f"{clients:>7} {len(ops) / seconds:>9.1f} {_percentile(lat, 50):>8.1f} {_percentile(lat, 95):>8.1f} "
          f"{p99:>8.1f} {login_p50:>10.1f} {errors:>7} {reference_p99[0]:>11.1f} {reference_p99[1]:>9.1f} "
          f"{load[0]:>5.1f}-{load[1]:<4.1f}", flush=True)
    return p99, login_p50, errors


def _start_gunicorn(env: dict[str, str], port: int, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "atmsite.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--access-logfile", "/dev/null", "--log-level", "warning"], cwd=ROOT, env=env)
    return process, f"gunicorn {workers} workers"


def _start_proxy(env: dict[str, str], port: int, runtime: Path,
                 app_ports: list[int] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start nginx on `port` in front of two app servers (on `app_ports`, else free ports), as `make serve`
    does (without Celery)."""
    from tests.faults.stack import free_port

    apps = [str(p) for p in app_ports] if app_ports else [str(free_port()), str(free_port())]
    log = (runtime / "runall.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "atmsite.runall", "--host", "127.0.0.1", "--port", str(port), "--app-ports", *apps,
         "--runtime-dir", str(runtime / "nginx"), "--without-celery"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(300):
        if "atmsite is running at" in (runtime / "runall.log").read_text() or process.poll() is not None:
            break
        time.sleep(0.2)
    if process.poll() is not None:
        raise SystemExit("make serve's shape did not start:\n" + (runtime / "runall.log").read_text()[-3000:])
    import runpy

    from atmsite.runall import GUNICORN_CONFIG

    config = runpy.run_path(str(GUNICORN_CONFIG))
    return process, f"nginx + 2 app servers x {config['workers']} gunicorn workers x {config['threads']} threads"


def main() -> None:
    global DB
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--think", type=float, nargs=2, default=[0.25, 1.0], metavar=("MIN", "MAX"),
                        help="seconds a customer pauses after each screen (0 0: closed loop)")
    parser.add_argument("--app-ports", type=int, nargs=2, default=None, metavar=("A", "B"),
                        help="with --via-proxy, the two app servers' ports (default: free ports)")
    parser.add_argument("--via-proxy", action="store_true",
                        help="nginx in front of two app servers (make serve's shape) instead of one gunicorn")
    parser.add_argument("--database", default="atmsite_load", help="Dropped and recreated (default atmsite_load).")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the app servers (repeat), e.g. GUNICORN_THREADS=2")
    args = parser.parse_args()
    DB = args.database
    env = _env(args.set)
    cards = _prepare(env, max(*args.clients, 2))
    with tempfile.TemporaryDirectory(prefix="atm-load-") as runtime:
        if args.via_proxy:
            server, shape = _start_proxy(env, args.port, Path(runtime), args.app_ports)
        else:
            server, shape = _start_gunicorn(env, args.port, args.workers)
        base = f"http://127.0.0.1:{args.port}"
        results = {}
        try:
            _wait_for(base)
            print(f"{shape}, PostgreSQL, {args.seconds:.0f} s per level, think time "
                  f"{args.think[0]}-{args.think[1]} s; latency in ms (p50/p95/p99 over non-login requests)")
            print("references, asked beside the customers: a static file and a trivial view (favicon.ico's "
                  "redirect); load: the 1-minute load average before-after the level")
            print(f"{'clients':>7} {'req/s':>9} {'p50':>8} {'p95':>8} {'p99':>8} {'login p50':>10} {'errors':>7} "
                  f"{'static p99':>11} {'view p99':>9} {'load':>9}")
            # Warm-up, not reported: every worker imports, compiles its templates and connects once,
            # as a long-running server did long ago.
            _run_level(base, cards, min(8, len(cards)), WARM_UP_SECONDS, tuple(args.think))
            for clients in args.clients:
                before = os.getloadavg()[0]
                samples, references = _run_level(base, cards, clients, args.seconds, tuple(args.think))
                results[clients] = _report(clients, args.seconds, samples, references, (before, os.getloadavg()[0]))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            access_log = Path(runtime) / "nginx" / "access.log"
            if os.environ.get("ATM_LOAD_DUMP") and access_log.is_file():
                shutil.copy(access_log, os.environ["ATM_LOAD_DUMP"] + ".access.log")
    print(_manage(env, "verify_ledger").strip())
    if args.via_proxy and 32 in results:
        p99, login_p50, errors = results[32]
        for name, met, figure in (
            (f"p99 of non-login requests < {P99_TARGET_MS:.0f} ms at 32 customers", p99 < P99_TARGET_MS, f"{p99:.1f} ms"),
            ("0 errors at 32 customers", errors == 0, str(errors)),
            (f"login p50 < {LOGIN_P50_TARGET_MS:.0f} ms at 32 customers", login_p50 < LOGIN_P50_TARGET_MS,
             f"{login_p50:.1f} ms"),
        ):
            print(f"target {name}: {'met' if met else 'NOT met'} ({figure})")


def _wait_for(base: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer on " + base)


if __name__ == "__main__":
    main()
