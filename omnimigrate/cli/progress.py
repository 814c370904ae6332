"""Progress for long runs, and the console commands print to.

On a terminal: a rich bar (or, while only reading, a spinner with the requests so far) from
the first request. Log records go through the bar's console (rich redirects sys.stderr while
it is live, and the log writes to whatever sys.stderr is at the time), so a log line never
lands on the bar. Otherwise (a CronJob's log): at most one `progress` log line every 5 s,
and a last one at the end. The ETA comes from the rate limit, the physical bound of a run,
not from the speed so far (a rate-limited run starts with a burst and then settles), and
only once the total is known (backup's listings are done).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from omnimigrate.http.transport import key_stats

Update = Callable[[int, int | None], None]  # (done, total or None while still unknown)
EVERY = 5.0  # seconds between progress lines off a terminal


def make_console(*, stderr: bool = False) -> Console:
    """A terminal's console, or one as wide as its lines when output goes to a file or a
    pipe (rich would cut tables and their titles at 80 columns, and ids are what people copy)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 10_000)


def titled(title: str | None) -> Table:
    """A table at least as wide as its title, so the title is never wrapped (rich fits a title
    into the table's width, and a snapshot id or a store path is what people copy)."""
    return Table(title=title, min_width=len(title or "") + 4)


def eta(done: int, total: int | None, per_second: float) -> str:
    if total is None:
        return "eta ?"
    return "eta " + str(timedelta(seconds=round(max(total - done, 0) / per_second)))


class Throttled:
    """Progress lines for a log: at most one per `every` seconds, and the last state at the
    end (`close`) if it was not the line just written."""

    def __init__(self, label: str, unit: str, every: float, clock: Callable[[], float],
                 line: Callable[[int, int | None], dict[str, object]]) -> None:  # fmt: skip
        self.label, self.unit, self.every, self.clock, self.line = label, unit, every, clock, line
        self.last = clock()
        self.state: tuple[int, int | None] | None = None
        self.logged: tuple[int, int | None] | None = None
        self.log = structlog.get_logger("omnimigrate.progress")

    def __call__(self, done: int, total: int | None) -> None:
        self.state = (done, total)
        if self.clock() - self.last >= self.every:
            self._write()

    def _write(self) -> None:
        assert self.state is not None
        self.last, self.logged = self.clock(), self.state
        self.log.info("progress", task=self.label, unit=self.unit, **self.line(*self.state))

    def close(self) -> None:
        if self.state is not None and self.state != self.logged:
            self._write()


@contextmanager
def job_progress(
    label: str,
    per_second: float,
    *,
    unit: str = "jobs",
    every: float = EVERY,
    clock: Callable[[], float] = time.monotonic,
    terminal: bool | None = None,
) -> Iterator[Update]:
    """`per_second`: how many units the rate limit lets through a second, over every key."""
    if sys.stderr.isatty() if terminal is None else terminal:
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
    lines = Throttled(label, unit, every, clock,
                      lambda done, total: {"done": done, "total": total,
                                           "eta": eta(done, total, per_second).removeprefix("eta ")})  # fmt: skip
    try:
        yield lines
    finally:
        lines.close()


def requests_of(clients: list[Any]) -> Callable[[], int]:
    """The requests the clients have sent so far, over every key."""
    return lambda: sum(k.requests for k in key_stats(clients).values())


@asynccontextmanager
async def reading(
    label: str,
    requests: Callable[[], int],
    *,
    every: float = EVERY,
    clock: Callable[[], float] = time.monotonic,
    terminal: bool | None = None,
    tick: float = 1.0,
) -> AsyncIterator[None]:
    """A phase whose total nobody knows beforehand (plan and verify reading the target): a
    spinner with the requests so far on a terminal, a progress line every `every` s
    otherwise, from the first request on."""
    if sys.stderr.isatty() if terminal is None else terminal:
        spinner = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[requests]} requests"),
            TimeElapsedColumn(),
            console=make_console(stderr=True),
            transient=True,
        )
        task = spinner.add_task(label, total=None, requests=0)
        update: Callable[[int, int | None], None] = lambda n, _: spinner.update(  # noqa: E731
            task, requests=n
        )
        close: Callable[[], None] = lambda: None  # noqa: E731
        spinner.start()
        stop: Callable[[], None] = spinner.stop
    else:
        lines = Throttled(label, "requests", every, clock, lambda n, _: {"requests": n})
        update, close, stop = lines, lines.close, lambda: None

    async def ticker() -> None:
        while True:
            update(requests(), None)
            await asyncio.sleep(tick)

    task_ = asyncio.create_task(ticker())
    try:
        yield
    finally:
        task_.cancel()
        await asyncio.gather(task_, return_exceptions=True)
        update(requests(), None)
        close()
        stop()
