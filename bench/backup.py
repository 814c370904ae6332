"""Backup benchmark: requests per document, achieved rate, and peak memory.

    python bench/backup.py [--documents 1000] [--memory-documents 10000] [--rate 50 --period 1]

The fake Omni runs in its own process with its rate limit enforced (scaled down in time:
`--rate` requests per `--period` seconds instead of Omni's 60 per 60 s, so the run takes
seconds, not an hour). Figures printed:

- requests per document for a full and an incremental backup of `--documents` documents;
- achieved request rate as a fraction of the limit (the rate limit is the physical bound of a
  backup, so the target is >= 0.95 with zero 429s), from the first request to the last
  answer (the run's start-up before its first request is not the limiter's to pace), and
  over the whole run beside it;
- peak resident memory of an `omnimigrate backup` process over `--memory-documents`
  documents (target <= 200 MB), with the limit off so it finishes quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnimigrate.engine.backup import BackupOptions, BackupOutcome, run_backup
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.omni.fake.process import start_fake
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.snapshot.store import LocalStore


def paced(clients: list[Any]) -> float:
    """Seconds from the first request any key sent to the last answer: what the limiter
    paced. A run's own start-up (the platform's modules imported on first use, the store
    opened, the last snapshot read) comes before it and is not the limiter's work."""
    first = [c.transport.first_sent for c in clients if c.transport.first_sent is not None]
    last = [c.transport.last_answered for c in clients if c.transport.last_answered is not None]
    return max(last) - min(first) if first and last else 0.0


@dataclass
class Timing:
    elapsed: float  # the whole run, start-up included
    paced: float  # first request to last answer (`paced`)

    def rate(self, requests: int, limit: float) -> str:
        """The use of the limit (`limit` requests a second) over the paced stretch, and
        over the whole run."""
        return (
            f"{requests / self.paced / limit:.3f} of the limit from the first request to the "
            f"last answer ({requests / self.elapsed / limit:.3f} over the whole "
            f"{self.elapsed:.1f} s, start-up included)"
        )


async def timed_backup(
    url: str, token: str, rate: int, period: float, work: Path
) -> tuple[BackupOutcome, Timing]:
    async with client_pool(url, [token], rate_limit=rate, period=period) as clients:
        start = time.monotonic()
        outcome = await run_backup(
            clients,
            LocalStore(work / "store"),
            BackupOptions(concurrency=8),
            cache_dir=work / "cache",
        )
        return outcome, Timing(time.monotonic() - start, paced(clients))


def rate_figures(args: argparse.Namespace, work: Path) -> None:
    proc, url, token = start_fake(args.documents, args.rate, args.period, work)
    try:
        for label in ("full", "incremental"):
            time.sleep(args.period)  # runs are nightly: the key's window is empty at start
            outcome, timing = asyncio.run(timed_backup(url, token, args.rate, args.period, work))
            stats = next(iter(outcome.manifest.keys.values()))
            print(
                f"{label:>11} backup of {args.documents} documents: {stats.requests} requests "
                f"({stats.requests / args.documents:.2f} per document), {outcome.exports} exports, "
                f"{timing.paced:.1f} s paced, rate "
                f"{timing.rate(stats.requests, args.rate / args.period)}, {stats.throttled} x 429"
            )
    finally:
        proc.terminate()
        proc.wait()


UNLIMITED = ["--rate-limit", "100000000", "--concurrency", "16"]


def measured_run(command: list[str], env: dict[str, str], out: Path | None = None) -> str:
    """Run an omnimigrate command to the end: its exit code, seconds and peak resident memory
    (its output to `out`, if given)."""
    start = time.monotonic()
    run = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", "--log-level", "error", *command],
        env={**os.environ, **env},
        stdout=out.open("w") if out else subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(run.pid, 0)
    return (
        f"exited {os.waitstatus_to_exitcode(status)} in {time.monotonic() - start:.1f} s, "
        f"peak resident memory {usage.ru_maxrss / 1024:.0f} MB"
    )


def memory_figure(args: argparse.Namespace, work: Path) -> None:
    proc, url, token = start_fake(args.memory_documents, 0, 60, work)
    try:
        figure = measured_run(
            ["backup", "--source", url, "--store", str(work / "mem-store"), *UNLIMITED],
            {"OMNI_SOURCE_TOKEN": token, "OMNIMIGRATE_CACHE_DIR": str(work / "mem-cache")},
        )
        print(f"memory: backup of {args.memory_documents} documents {figure}")
    finally:
        proc.terminate()
        proc.wait()


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options every benchmark shares: its size and the (time-scaled) rate limit."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=50, help="requests per period per key")
    parser.add_argument("--period", type=float, default=1.0, help="seconds")
    return parser


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--memory-documents", type=int, default=10_000)
    args = parser.parse_args()
    configure_logging(level="error", fmt="json")
    with tempfile.TemporaryDirectory(prefix="omnimigrate-bench-") as tmp:
        rate_figures(args, Path(tmp))
        if args.memory_documents:
            memory_figure(args, Path(tmp))


if __name__ == "__main__":
    main()
