"""Write a development `.env` with DJANGO_DEBUG=true and fresh random secrets, unless one exists.

Run by `make env` (and so by `make run`). The secrets are per checkout: losing the file makes
existing PIN hashes and card fingerprints unusable, so the file is kept until you delete it.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

SECRETS = ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY")


def write_dev_env(path: Path) -> bool:
    """Create `path` with development settings; return False when it already exists."""
    if path.exists():
        return False
    lines = ["# Development settings written by `make env`. Never use these in production.", "DJANGO_DEBUG=true"]
    lines += [f"{name}={secrets.token_urlsafe(48)}" for name in SECRETS]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    print(f"wrote {target}" if write_dev_env(target) else f"{target} exists; kept")
