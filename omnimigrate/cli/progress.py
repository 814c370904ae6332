"""Progress for long runs, and the console commands print to.

On a terminal: a rich bar with counts and an ETA. Otherwise (a CronJob's log): a `progress`
log line every few seconds. The ETA comes from the rate limit, the physical bound of a run,
not from the speed so far (a rate-limited run starts with a burst and then settles), and
only once the total is known (backup's listings are done).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Update = Callable[[int, int | None], None]  # (done, total or None while still unknown)


def make_console(*, stderr: bool = False) -> Console:
    """A terminal's console, or one as wide as its lines when output goes to a file or a
    pipe (rich would cut tables at 80 columns, and ids are what people copy)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 10_000)


def eta(done: int, total: int | None, per_second: float) -> str:
    if total is None:
        return "eta ?"
    return "eta " + str(timedelta(seconds=round(max(total - done, 0) / per_second)))


@contextmanager
def job_progress(
    label: str,
    per_second: float,
    *,
    unit: str = "jobs",
    every: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Update]:
    """`per_second`: how many units the rate limit lets through a second, over every key."""
    if sys.stderr.isatty():
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=make_console(stderr=True),
            transient=True,
        )
        task = bar.add_task(label, total=None, eta="eta ?")
        with bar:
            yield lambda done, total: bar.update(
                task, completed=done, total=total, eta=eta(done, total, per_second)
            )
        return
    log = structlog.get_logger("omnimigrate.progress")
    last = clock()

    def update(done: int, total: int | None) -> None:
        nonlocal last
        if clock() - last >= every or done == total:
            last = clock()
            log.info("progress", task=label, done=done, total=total, unit=unit,
                     eta=eta(done, total, per_second).removeprefix("eta "))  # fmt: skip

    yield update
