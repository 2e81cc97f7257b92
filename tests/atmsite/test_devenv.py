"""The development .env writer (atmsite/devenv.py): fresh secrets, private file, never overwritten."""

from __future__ import annotations

import stat

from atmsite.devenv import SECRETS, write_dev_env


def _settings(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_it_writes_debug_and_a_long_fresh_secret_per_name_readable_only_by_the_owner(tmp_path):
    first, second = tmp_path / "one.env", tmp_path / "two.env"
    assert write_dev_env(first) and write_dev_env(second)
    one, two = _settings(first.read_text()), _settings(second.read_text())
    assert set(one) == {"DJANGO_DEBUG", *SECRETS} and one["DJANGO_DEBUG"] == "true"
    assert all(len(one[name]) >= 32 and one[name] != two[name] for name in SECRETS)
    assert len({one[name] for name in SECRETS}) == len(SECRETS)
    assert stat.S_IMODE(first.stat().st_mode) == 0o600


def test_it_keeps_an_existing_file(tmp_path):
    path = tmp_path / ".env"
    path.write_text("DJANGO_DEBUG=false\n")
    assert write_dev_env(path) is False
    assert path.read_text() == "DJANGO_DEBUG=false\n"
