"""The order released rows are written in: a random permutation drawn from a per-run secret.

Rows never leave in ledger order, which would put a transfer's two legs, or a customer's
consecutive entries, next to each other. Each run seeds a generator with 32 bytes from
`secrets.token_bytes`, which are neither stored nor derived from the data, so nobody can
recompute the order from the file. An order that happens to fail the verifier's order rule
(release/verify.py `order_problem`) is redrawn from the same generator, so a correct release never
fails verification by chance; with the bounds used there a redraw is needed rarely, and a second
one almost never.
"""

from __future__ import annotations

import secrets

import numpy as np

from .verify import order_problem

SEED_BYTES = 32
MAX_DRAWS = 100


def secret_order(positions: np.ndarray) -> np.ndarray:
    """Return a secret random permutation of the rows whose ledger positions are given (in ledger order)."""
    generator = np.random.default_rng(int.from_bytes(secrets.token_bytes(SEED_BYTES), "big"))
    for _draw in range(MAX_DRAWS):
        order = generator.permutation(len(positions))
        if order_problem(positions[order]) is None:
            return order
    raise RuntimeError(f"No random order of {len(positions)} rows passed the order rule in {MAX_DRAWS} draws.")
