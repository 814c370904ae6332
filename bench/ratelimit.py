"""Rate-limit benchmark: 429 share and use of the limit under every server-side limiter.

    python bench/ratelimit.py [--documents 60] [--rate 4 --period 1] [--realtime]

Omni documents its limit, not how it counts, so the fake (in its own process) enforces the
limit four ways in turn: a token bucket with a burst of 1 and of 5, a fixed window, and a
sliding window. For each, a backup and a restore of `--documents` documents run at the
limit, and the share of 429s (goal <= 1 %) and the use of the limit (requests per second
over the limit; goal >= 0.95) are printed. The use is measured from the first request to the
last answer, what the limiter paces; a run's start-up before its first request (the
platform's modules imported on first use, the store opened) is not the limiter's work, and
the use over the whole run is printed beside it. Then a restore with 3 target keys is timed
against one with 1 key (goal: at least 2.7 times as fast).

Time is scaled (`--rate` requests per `--period` seconds): 4 a second keeps a 250 ms gap, so
a few milliseconds of uneven transit weigh about as much as they would against Omni's 1 s. The fake skips its openapi.json checks
here (the suite makes them): the client is measured, and a fake busy checking one large
import holds back the next request's arrival, as no real Omni behind a load balancer does.
`--realtime` instead runs one backup at Omni's own 60 a minute for about two minutes.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from omnimigrate.logging import configure_logging
from omnimigrate.platforms.omni.fake.process import start_fake

sys.path.insert(0, str(Path(__file__).parent))
from backup import Timing, bench_parser, timed_backup  # the other benches' helpers
from restore import restore, snapshot, standby_keys

LIMITERS = [("bucket", 1), ("bucket", 5), ("fixed", 1), ("sliding", 1)]


def line(what: str, requests: int, throttled: int, timing: Timing, rate: float) -> str:
    share = throttled / requests if requests else 0.0
    return (
        f"{what}: {requests} requests in {timing.paced:.1f} s, {throttled} x 429 ({share:.1%}), "
        f"{timing.rate(requests, rate)}"
    )


def backup_figure(args, work: Path, limiter: tuple[str, int]) -> None:
    work.mkdir()
    proc, url, token = start_fake(
        args.documents, args.rate, args.period, work, limiter=limiter, validate=False
    )
    try:
        outcome, timing = asyncio.run(timed_backup(url, token, args.rate, args.period, work))
        stats = next(iter(outcome.manifest.keys.values()))
        name = f"{limiter[0]} (burst {limiter[1]})"
        print(
            line(
                f"{name:>17} backup ",
                stats.requests,
                stats.throttled,
                timing,
                args.rate / args.period,
            )
        )
    finally:
        proc.terminate()
        proc.wait()


def restore_figure(args, work, snap, state: Path, limiter, keys: int = 1) -> float:
    tokens = standby_keys(state, keys)
    proc, url, _ = start_fake(
        0, args.rate, args.period, work, state=state, limiter=limiter, validate=False
    )
    try:
        reads, applied, throttled, _, timing = asyncio.run(
            restore(snap, url, tokens, args.rate, args.period)
        )
        name = f"{limiter[0]} (burst {limiter[1]})"
        rate = keys * args.rate / args.period
        print(
            line(
                f"{name:>17} restore, {keys} key{'s' if keys > 1 else ''}",
                reads + applied,
                throttled,
                timing,
                rate,
            )
        )
        return timing.elapsed
    finally:
        proc.terminate()
        proc.wait()


def fresh_state(state: Path, work: Path, n: int) -> Path:
    """An untouched copy of the standby for each restore (each starts from empty)."""
    copy = work / f"standby-{n}.json"
    copy.write_text(state.read_text())
    return copy


def realtime(work: Path) -> None:
    proc, url, token = start_fake(50, 60, 60.0, work)
    try:
        outcome, timing = asyncio.run(timed_backup(url, token, 60, 60.0, work))
        stats = next(iter(outcome.manifest.keys.values()))
        print(
            line(
                "real time, 60/min, sliding window, backup",
                stats.requests,
                stats.throttled,
                timing,
                1.0,
            )
        )
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = bench_parser(__doc__)
    parser.set_defaults(documents=60, rate=4)
    parser.add_argument("--realtime", action="store_true", help="one backup at 60/min instead")
    args = parser.parse_args()
    configure_logging(level="error", fmt="json")
    with tempfile.TemporaryDirectory(prefix="omnimigrate-bench-") as tmp:
        work = Path(tmp)
        if args.realtime:
            realtime(work)
            return
        snap, state = asyncio.run(snapshot(args.documents, work))
        for n, limiter in enumerate(LIMITERS):
            backup_figure(args, work / f"b{n}", limiter)
            restore_figure(args, work, snap, fresh_state(state, work, n), limiter)
        one = restore_figure(args, work, snap, fresh_state(state, work, 10), ("sliding", 1))
        three = restore_figure(
            args, work, snap, fresh_state(state, work, 11), ("sliding", 1), keys=3
        )
        print(f"restore with 3 target keys: {one / three:.2f} times as fast as with 1")


if __name__ == "__main__":
    main()
