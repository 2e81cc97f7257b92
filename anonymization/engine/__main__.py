"""``python -m anonymization.engine``: see :mod:`anonymization.engine.cli`."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
