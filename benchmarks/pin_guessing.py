"""PIN guessing against the web ATM: how many guesses get through, from how many sessions and addresses.

Drives the real Django stack in process (django.test.Client, real argon2 cost from settings) on a
PostgreSQL database of its own and prints figures for these attacks:
- a botnet: every card guessed from a new session and a new address each time, PINs in random
  order (the right one somewhere in each card's list): the per-card limit and the per-/24 limit;
- one /24 network: a new address of the same /24 for every try, over many cards (the per-network
  throttle), and PIN checks per card and per /24;
- the answer's time for an unknown card, a wrong PIN and a blocked card (same message, same work);
- one address guessing across many cards, each try from a new session (the per-address throttle);
- threads guessing on one card at the same time (the card row lock);
- bursts of simultaneous attempts from one address (the throttle's per-address lock).

    .venv/bin/python -m benchmarks.pin_guessing [--cards 40] [--guesses 8] [--threads 16] [--rounds 50]

Needs PostgreSQL (default postgres://postgres@127.0.0.1:5432, trust auth); drops and recreates its
own database `atmsite_pinguess`. A default run takes about a minute.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "atmsite_pinguess"
GENERIC = "Card number or PIN is not correct."
JUST_BLOCKED = "Wrong PIN entered three times: this card is now blocked."
BLOCKED = "This card is blocked."
THROTTLED = ("Too many login attempts from this address.", "Too many login attempts from your network.",
             "Too many login attempts at this ATM service right now.")  # the address's, network's, global limit


def setup_django(server: str, database: str = DATABASE) -> None:
    """Recreate the benchmark database, point Django at it and migrate."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    os.environ.update({"DATABASE_URL": f"{server}/{database}", "DJANGO_LOG_LEVEL": "WARNING",
                       "DJANGO_SECURE_SSL_REDIRECT": "false", "DJANGO_SECURE_COOKIES": "false"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmsite.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def acceptable_pin(rng: random.Random) -> str:
    """Return a random 4-digit PIN that the PIN rules accept (not trivial)."""
    from accounts.pins import pin_problem

    while True:
        pin = f"{rng.randrange(10_000):04d}"
        if pin_problem(pin) is None:
            return pin


def issue_cards(count: int, rng: random.Random) -> list[tuple[int, str, str]]:
    """Issue `count` cards with random acceptable PINs; return (card pk, PAN, PIN) for each."""
    import datetime

    from accounts.models import Customer
    from accounts.services import account_open, card_issue

    cards = []
    for number in range(count):
        customer = Customer.objects.create(first_name="Target", last_name=str(number), gender="X", city="Brussel", country="BE",
                                           birth_date=datetime.date(1980, 1, 1), postal_code="1000")
        pin = acceptable_pin(rng)
        issued = card_issue(account=account_open(customer=customer), pin=pin, must_change_pin=False, rng=rng)
        cards.append((issued.card.pk, issued.pan, pin))
    return cards


class Guesser:
    """Sends login attempts, each from a new browser (a new session), and keeps what happened."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.seconds: list[float] = []
        self.lock = threading.Lock()

    def guess(self, pan: str, pin: str, address: str) -> str:
        """Try a card and PIN from `address`; return "logged in" or the refusal shown."""
        from django.test import Client

        started = time.perf_counter()
        response = Client(HTTP_HOST="localhost").post("/", {"card_number": pan, "pin": pin}, REMOTE_ADDR=address)
        elapsed = time.perf_counter() - started
        text = response.content.decode()
        outcome = "logged in" if response.status_code == 302 else next(
            (label for label in (JUST_BLOCKED, BLOCKED, *THROTTLED, GENERIC) if label in text),
            f"HTTP {response.status_code}")
        with self.lock:
            self.outcomes[outcome] += 1
            self.seconds.append(elapsed)
        return outcome


def botnet(cards: list[tuple[int, str, str]], guesses: int, rng: random.Random) -> None:
    """Guess every card `guesses` times, right PIN included at a random place, one new address per try."""
    from accounts.models import Card

    guesser, addresses = Guesser(), (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in range(1, 10**7))
    plans = {}
    for _pk, pan, pin in cards:
        wrong = rng.sample([f"{n:04d}" for n in range(10_000) if f"{n:04d}" != pin], guesses - 1)
        wrong.insert(rng.randrange(3, guesses), pin)  # the right PIN comes as the 4th guess or later
        plans[pan] = wrong
    for round_ in range(guesses):
        for _pk, pan, _pin in cards:
            guesser.guess(pan, plans[pan][round_], next(addresses))
    counted = Counter(Card.objects.filter(pk__in=[pk for pk, _pan, _pin in cards]).values_list(
        "failed_pin_attempts", flat=True))
    print(f"botnet: {len(cards)} cards x {guesses} guesses = {len(cards) * guesses} tries, each from a new "
          f"session and address (consecutive addresses, 256 a /24); right PIN placed 4th or later")
    print(f"  outcomes: {dict(guesser.outcomes)}")
    print(f"  failed PIN attempts counted per card: {dict(sorted(counted.items()))}; "
          f"median login {statistics.median(guesser.seconds) * 1000:.1f} ms")
    print(f"  PIN checks per /24: {checks_per_network()}")


def checks_per_network() -> dict[str, int]:
    """Return how many login attempts reached a PIN check, per network."""
    from django.db.models import Count

    from accounts.models import LoginAttempt

    rows = LoginAttempt.objects.values("network").annotate(n=Count("pk")).order_by("network")
    return {row["network"]: row["n"] for row in rows}


def one_network(cards: list[tuple[int, str, str]], attempts: int) -> None:
    """Send `attempts` logins, each from a new address of one /24, over many cards (two wrong PINs a card)."""
    from django.conf import settings

    from accounts.models import Card, LoginAttempt

    LoginAttempt.objects.all().delete()
    guesser = Guesser()
    for attempt in range(attempts):
        _pk, pan, _pin = cards[attempt // 2 % len(cards)]
        guesser.guess(pan, "0000", f"10.253.7.{attempt % 254 + 1}")
    counted = Counter(Card.objects.filter(pk__in=[pk for pk, _pan, _pin in cards]).values_list(
        "failed_pin_attempts", flat=True))
    print(f"one /24: {attempts} logins, each from a new address of 10.253.7.0/24; limits "
          f"{settings.ATM_LOGIN_THROTTLE_ATTEMPTS} per address, {settings.ATM_LOGIN_THROTTLE_NETWORK_ATTEMPTS} "
          f"per network per {settings.ATM_LOGIN_THROTTLE_WINDOW_SECONDS} s")
    print(f"  outcomes: {dict(guesser.outcomes)}; PIN checks per /24: {checks_per_network()}; "
          f"failed PIN attempts per card: {dict(sorted(counted.items()))}")


def answer_times(cards: list[tuple[int, str, str]], runs: int) -> None:
    """Print the median answer time of an unknown card, a wrong PIN and a blocked card."""
    from accounts.models import Card

    blocked_pk, blocked_pan, blocked_pin = cards[0]
    Card.objects.filter(pk=blocked_pk).update(status=Card.Status.BLOCKED)
    medians = {}
    for label, pan, pin in [("unknown card", "4000000000000002", "4826"), ("blocked card", blocked_pan, blocked_pin)]:
        guesser = Guesser()
        for run in range(runs):
            guesser.guess(pan, pin, f"10.254.{run}.1")
        medians[label] = (statistics.median(guesser.seconds), dict(guesser.outcomes))
    guesser = Guesser()
    for run in range(runs):  # two wrong PINs a card, so none is blocked
        _pk, pan, _pin = cards[1 + run // 2]
        guesser.guess(pan, "0000", f"10.254.{100 + run}.1")
    medians["wrong PIN"] = (statistics.median(guesser.seconds), dict(guesser.outcomes))
    print(f"answer times over {runs} logins each (new address each):")
    for label, (median, outcomes) in medians.items():
        print(f"  {label}: median {median * 1000:.1f} ms, {outcomes}")


def one_address(cards: list[tuple[int, str, str]], attempts: int) -> None:
    """Send `attempts` logins from one address over many cards (two wrong PINs a card at most)."""
    from django.conf import settings

    guesser = Guesser()
    for attempt in range(attempts):
        _pk, pan, _pin = cards[attempt // 2 % len(cards)]
        guesser.guess(pan, "0000", "10.250.0.1")  # 0000 is trivial: never a card's PIN
    print(f"one address: {attempts} logins over {min(len(cards), (attempts + 1) // 2)} cards, new session each; "
          f"limit {settings.ATM_LOGIN_THROTTLE_ATTEMPTS} per {settings.ATM_LOGIN_THROTTLE_WINDOW_SECONDS} s")
    print(f"  outcomes: {dict(guesser.outcomes)}")


def in_threads(count: int, work: Callable[[int], None]) -> None:
    """Run work(0..count-1) in threads released together, each closing its own connection; re-raise a failure."""
    from django.db import connection

    from tests.support.threads import run_together

    outcomes = run_together([functools.partial(work, number) for number in range(count)], after_each=lambda: connection.close())
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    if errors:
        raise errors[0]


def parallel_on_one_card(cards: list[tuple[int, str, str]], threads: int) -> None:
    """Guess each card with `threads` wrong PINs at the same time, each from its own address."""
    from accounts.models import Card

    guesser = Guesser()
    for index, (_pk, pan, pin) in enumerate(cards):
        wrong = [f"{n:04d}" for n in range(10_000) if f"{n:04d}" != pin][:threads]
        in_threads(threads, lambda n, pan=pan, wrong=wrong, index=index: guesser.guess(
            pan, wrong[n], f"10.251.{index % 256}.{n + 1}"))
    counted = Counter(Card.objects.filter(pk__in=[pk for pk, _pan, _pin in cards]).values_list(
        "failed_pin_attempts", flat=True))
    print(f"parallel: {len(cards)} cards, {threads} simultaneous wrong guesses each")
    print(f"  outcomes: {dict(guesser.outcomes)}; failed PIN attempts counted per card: {dict(counted)}")


def bursts_from_one_address(rounds: int, threads: int, limit: int) -> None:
    """Send `rounds` bursts of `threads` simultaneous attempts, each burst from a fresh address."""
    from atm.throttle import LoginThrottled, login_attempt_begin

    through: Counter[int] = Counter()
    for round_ in range(rounds):
        address, passed = f"10.252.{round_ % 256}.1", []  # a /24 of its own each burst

        def attempt(_number: int, address: str = address, passed: list[int] = passed) -> None:
            try:
                login_attempt_begin(address=address)
            except LoginThrottled:
                return
            passed.append(1)

        in_threads(threads, attempt)
        through[len(passed)] += 1
    print(f"bursts: {rounds} bursts of {threads} simultaneous attempts from one address, limit {limit}")
    print(f"  attempts let through per burst: {dict(through)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--guesses", type=int, default=8)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--database", default=DATABASE, help="database to drop and recreate")
    args = parser.parse_args()
    setup_django(args.server, args.database)
    from django.conf import settings

    rng = random.Random(2025)
    botnet(issue_cards(args.cards, rng), args.guesses, rng)
    one_address(issue_cards(10, rng), 60)
    one_network(issue_cards(40, rng), 200)
    answer_times(issue_cards(8, rng), 14)
    parallel_on_one_card(issue_cards(5, rng), args.threads)
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS = 4
    bursts_from_one_address(args.rounds, args.threads, settings.ATM_LOGIN_THROTTLE_ATTEMPTS)


if __name__ == "__main__":
    main()
