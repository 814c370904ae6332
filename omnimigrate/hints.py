"""The commands hints print. A hint is run as printed, so it names the options of the run
that printed it: `--config` when one was given, and what its caller passes (`--store`,
`--target`, `--platform`, ...). Hints are made deep in the store and the engine, where the
config file is not known: the CLI sets it for the run in a context variable, as structlog's
context variables carry the run's id."""

from __future__ import annotations

import shlex
from contextvars import ContextVar
from pathlib import Path

RUN_CONFIG: ContextVar[Path | None] = ContextVar("omnimigrate_run_config", default=None)


def command_line(*words: str, **options: str | tuple[str, ...] | bool | None) -> str:
    """`omnimigrate` with the run's `--config`, `words`, then each option given (None: not
    given, so its default applies again as it did for this run), a tuple once per value, a
    bool as a flag."""
    config = RUN_CONFIG.get()
    parts = ["omnimigrate", *(["--config", str(config)] if config else []), *words]
    for name, value in options.items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):  # a flag: given or not
            parts += [flag] if value else []
            continue
        values = value if isinstance(value, tuple) else (value,) if value is not None else ()
        for v in values:
            parts += [flag, v]
    return shlex.join(parts)
