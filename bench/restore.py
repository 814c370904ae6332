"""Restore benchmark: requests per document, achieved rate, and peak memory.

    python bench/restore.py [--documents 1000] [--memory-documents 10000] [--rate 50 --period 1]

A generated org is backed up (limit off) into a temporary store; the standby fake then runs
in its own process with its rate limit enforced, scaled down in time (`--rate` requests per
`--period` seconds instead of 60 per minute). Figures printed: requests per document for the
plan (reading the target) and the apply, the achieved rate as a fraction of the limit (target
>= 0.95 with zero 429s), what verify finds after the first run (target: every object
matches), and the write requests of a second, idempotent run (target 0).
Last, the peak resident memory of an `omnimigrate restore` process that restores a
`--memory-documents` snapshot into a standby (target <= 250 MB), with the limit off: the
process's own peak (`ru_maxrss` of its `wait4`; the fakes run in processes of their own),
and its requests per document from its report of requests per key.

Both orgs are like the demo's at scale (`demo_like`): 20 users, 40 schedules, and the
scenario's direct permits (up to three) on every document.
Between them, a restore of `--keys-documents` documents with 3 target keys is timed against
one with 1 key, on a token bucket of one token per key at 4 requests a second (goal: at
least 2.7 times as fast).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.omni.fake.process import start_fake
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.fake.state import Token
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.snapshot.store import LocalStore

sys.path.insert(0, str(Path(__file__).parent))
from backup import UNLIMITED, Timing, bench_parser, measured_run, paced  # the backup bench's


def demo_like(documents: int, seed: int) -> ScenarioSpec:
    """An org like the demo's (`omnimigrate demo`), with the people and schedules of a
    larger one."""
    return ScenarioSpec(documents=documents, users=20, schedules=40, seed=seed)


async def snapshot(documents: int, work: Path):
    scenario = generate(demo_like(documents, seed=3))
    source = FakeOmni(scenario.state, FakeSettings(rate_limit=None, validate=False))
    await source.start()
    try:
        async with client_pool(source.url, [scenario.org_token], rate_limit=10**9, period=1) as cs:
            await run_backup(
                cs, LocalStore(work / "store"), BackupOptions(concurrency=16), cache_dir=work
            )
    finally:
        await source.stop()
    state_file = work / "standby.json"
    standby(scenario.state).state.dump_json(state_file)
    return open_snapshot(LocalStore(work / "store"), "latest"), state_file


async def restore(
    snap, url: str, tokens: list[str], rate: int, period: float
) -> tuple[int, int, int, int, Timing]:
    """(plan reads, apply requests, 429s, write actions, timing), over every key."""
    async with client_pool(url, tokens, rate_limit=rate, period=period) as clients:
        start = time.monotonic()
        plan = await plan_restore(snap, clients, OmniRestoreOptions(models=True))
        reads = sum(c.transport.requests for c in clients)
        await apply_plan(snap, plan, clients, concurrency=8)
        timing = Timing(time.monotonic() - start, paced(clients))
        writes = sum(1 for a in plan.actions if a.writes)
        total = sum(c.transport.requests for c in clients)
        throttled = sum(c.transport.throttled for c in clients)
        return reads, total - reads, throttled, writes, timing


def memory_figure(documents: int, work: Path) -> None:
    """Back a generated org up, then restore it into its standby with the CLI, and report
    that process's peak resident memory (the fakes run in processes of their own)."""
    scenario = generate(demo_like(documents, seed=5))
    source_state, standby_state = work / "mem-source.json", work / "mem-standby.json"
    scenario.state.dump_json(source_state)
    standby(scenario.state).state.dump_json(standby_state)
    del scenario
    store, cache = str(work / "mem-store"), {"OMNIMIGRATE_CACHE_DIR": str(work / "mem-cache")}
    source, url, token = start_fake(0, 0, 60, work, state=source_state, validate=False)
    try:
        backup = ["backup", "--source", url, "--store", store, *UNLIMITED]
        print(
            f"memory: backup of {documents} documents {measured_run(backup, {**cache, 'OMNI_SOURCE_TOKEN': token})}"
        )
    finally:
        source.terminate()
        source.wait()
    target, url, token = start_fake(0, 0, 60, work, state=standby_state, validate=False)
    try:
        restore = ["restore", "--store", store, "--target", url, "--models", *UNLIMITED]
        out = work / "mem-restore.txt"
        figure = measured_run(restore, {**cache, "OMNI_TARGET_TOKEN": token}, out)
        # the run's last lines: requests per key (plan reads and apply)
        sent = sum(int(n) for n in re.findall(r"(\d+) requests", out.read_text()))
        print(
            f"memory: restore of {documents} documents {figure}, "
            f"{sent / documents:.2f} requests per document"
        )
    finally:
        target.terminate()
        target.wait()


def standby_keys(state: Path, keys: int) -> list[str]:
    """The standby's org keys, `keys` of them (added to its state file as needed)."""
    raw = json.loads(state.read_text())
    orgs = [t for t in raw["tokens"].values() if t["kind"] == "org"]
    while len(orgs) < keys:
        extra = Token(token=f"omni_org_bench{len(orgs)}", kind="org", user_id=orgs[0]["user_id"])
        raw["tokens"][extra.token] = extra.model_dump()
        orgs.append(extra.model_dump())
    state.write_text(json.dumps(raw))
    return [t["token"] for t in orgs[:keys]]


def timed_restore(snap, state: Path, work: Path, keys: int, limiter: tuple[str, int]) -> float:
    """Seconds to restore `snap` into an untouched copy of the standby `state` with `keys`
    target keys, its fake enforcing 4 requests a second per key with `limiter`."""
    copy = work / f"standby-{limiter[0]}-{limiter[1]}-{keys}.json"
    copy.write_text(state.read_text())
    tokens = standby_keys(copy, keys)
    proc, url, _ = start_fake(0, 4, 1.0, work, state=copy, limiter=limiter, validate=False)
    try:
        reads, applied, throttled, _, timing = asyncio.run(restore(snap, url, tokens, 4, 1.0))
        print(
            f"restore with {keys} key{'s' if keys > 1 else ''} on a {limiter[0]} (burst "
            f"{limiter[1]}): {reads + applied} requests in {timing.elapsed:.1f} s, "
            f"{throttled} x 429, {timing.rate(reads + applied, 4 * keys)}"
        )
        return timing.elapsed
    finally:
        proc.terminate()
        proc.wait()


def keys_figure(documents: int, work: Path) -> None:
    work.mkdir()
    snap, state = asyncio.run(snapshot(documents, work))
    one, three = (timed_restore(snap, state, work, keys, ("bucket", 1)) for keys in (1, 3))
    print(
        f"restore with 3 target keys on a token bucket: {one / three:.2f} times as fast as with 1"
    )


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--memory-documents", type=int, default=10_000)
    parser.add_argument("--keys-documents", type=int, default=60)
    args = parser.parse_args()
    configure_logging(level="error", fmt="json")
    with tempfile.TemporaryDirectory(prefix="omnimigrate-bench-") as tmp:
        if args.documents:
            rate_figures(args, Path(tmp))
        if args.keys_documents:
            keys_figure(args.keys_documents, Path(tmp) / "keys")
        if args.memory_documents:
            memory_figure(args.memory_documents, Path(tmp))


def rate_figures(args: argparse.Namespace, work: Path) -> None:
    snap, state_file = asyncio.run(snapshot(args.documents, work))
    proc, url, token = start_fake(0, args.rate, args.period, work, state=state_file)
    try:
        for label in ("first", "second"):
            time.sleep(args.period)
            reads, applied, throttled, writes, timing = asyncio.run(
                restore(snap, url, [token], args.rate, args.period)
            )
            total = reads + applied
            print(
                f"{label:>6} restore of {args.documents} documents: {reads} plan reads + "
                f"{applied} apply requests = {total / args.documents:.2f} requests per document "
                f"({writes} write actions), {timing.elapsed:.1f} s, rate "
                f"{timing.rate(total, args.rate / args.period)}, {throttled} x 429"
            )
            if label == "first":  # fewer requests only count if nothing is lost
                print(asyncio.run(verified(snap, url, token, args.rate, args.period)))
    finally:
        proc.terminate()
        proc.wait()


async def verified(snap, url: str, token: str, rate: int, period: float) -> str:
    """What verify finds on the target after a restore (its reads are not counted above)."""
    async with client_pool(url, [token], rate_limit=rate, period=period) as clients:
        report = await snap.platform.verify(
            snap.source, clients, OmniVerifyOptions(models=True), store=snap.store
        )
    checked = sum(t.checked for t in report.types.values())
    matching = sum(t.matching for t in report.types.values())
    off = {k: t.differences[:2] for k, t in report.types.items() if t.matching != t.checked}
    return (
        f"verify after the first restore: {matching} of {checked} objects match "
        f"({matching / checked:.1%}){f', differences: {off}' if off else ''}"
    )


if __name__ == "__main__":
    main()
