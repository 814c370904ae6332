"""Progress for long runs: a rich bar with counts and ETA on a terminal, periodic structured
log lines otherwise (a CronJob's log has no terminal)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def job_progress(label: str, every: int = 100) -> Iterator[Callable[[int, int], None]]:
    if sys.stderr.isatty():
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        task = bar.add_task(label, total=None)
        with bar:
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return
    log = structlog.get_logger("omnimigrate.progress")

    def update(done: int, total: int) -> None:
        if done % every == 0 or done == total:
            log.info("progress", task=label, done=done, total=total)

    yield update
