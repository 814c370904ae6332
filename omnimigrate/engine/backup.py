"""Run a backup: open (or resume) a run, drain the job queue over every key, commit the
manifest last.

Nothing a run writes before its manifest is visible as a snapshot. If the process dies, the
open-run marker and the checkpoints let the same command resume the same snapshot; finished jobs
are not repeated.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from omnimigrate.engine.checkpoints import (
    Checkpoints,
    RunInfo,
    mark_run_closed,
    mark_run_open,
    open_checkpoints,
    read_open_run,
)
from omnimigrate.engine.job_queue import DeadLetter, JobQueue, ListingFailed, QueueStats
from omnimigrate.engine.jobs import UnknownJob
from omnimigrate.engine.platform import Client, Walker, platform_named
from omnimigrate.engine.scope import PathFilter
from omnimigrate.hints import command_line
from omnimigrate.http.transport import key_stats
from omnimigrate.snapshot.blobs import BlobStore, blob_key
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.crypto import Cipher
from omnimigrate.snapshot.gc import last_gc
from omnimigrate.snapshot.lock import InstanceLock, Sleep
from omnimigrate.snapshot.manifest import (
    Failure,
    Manifest,
    ObjectEntry,
    count_objects,
    dump_manifest,
    instance_slug,
    manifest_key,
    new_snapshot_id,
    object_count,
)
from omnimigrate.snapshot.store import Store

Now = Callable[[], datetime]


class BackupFailed(Exception):
    """The run could not complete (a listing failed); it stays open for a re-run to resume."""


class NothingSelected(Exception):
    """`--include`/`--exclude` matched no content: nothing is committed, the run is closed,
    and the instance's latest snapshot stays what it was."""


class OtherFilters(Exception):
    """The instance's open run was started with other `--include`/`--exclude`: resuming it
    with these would commit a snapshot of neither selection."""


@dataclass
class BackupOptions:
    full: bool = False
    restart: bool = False  # discard the instance's open run instead of resuming it
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    concurrency: int = 4
    instance: str | None = None  # the store's name for the instance; default from the URL
    max_attempts: int = 3
    retry_delay: float = 2.0
    lock_ttl: float = 300.0  # seconds a killed run's lock outlives it
    takeover_quiet: float = 0.0  # after taking a dead run's lock: its requests may still count
    force_unlock: bool = False
    allow_empty: bool = False  # a filter that matches nothing still commits a snapshot


@dataclass
class BackupOutcome:
    manifest: Manifest
    resumed: bool
    exports: int
    reused_exports: int
    jobs_done: int
    jobs_skipped: int
    dead: list[DeadLetter] = field(default_factory=list)
    bytes_written: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


async def run_backup(
    clients: list[Client],
    store: Store,
    options: BackupOptions,
    *,
    cache_dir: Path,
    now: Now = _now,
    on_progress: Callable[[int, int | None], None] = lambda done, total: None,
    cipher: Cipher | None = None,
    heartbeat: Sleep = asyncio.sleep,
) -> BackupOutcome:
    """Back up the instance `clients` reach (one client per API key) into `store`. The lock's
    lease is renewed after each `heartbeat(interval)`; a run whose lock is lost raises
    LockLost and commits no snapshot."""
    instance = options.instance or instance_slug(clients[0].base_url)
    lock = InstanceLock(store, instance, ttl=options.lock_ttl, sleep=heartbeat)
    if options.force_unlock:
        await asyncio.to_thread(lock.force_unlock)

    async def locked(took_over: bool) -> BackupOutcome:
        if took_over and options.takeover_quiet:
            # the dead holder's last requests still count in Omni's window for this key
            await asyncio.sleep(options.takeover_quiet)
        return await _locked_backup(clients, lock, options, cache_dir, now, on_progress, cipher)

    return await lock.run_held(locked)


async def _locked_backup(
    clients: list[Client],
    lock: InstanceLock,
    options: BackupOptions,
    cache_dir: Path,
    now: Now,
    on_progress: Callable[[int, int | None], None],
    cipher: Cipher | None,
) -> BackupOutcome:
    store, instance = lock.store, lock.instance
    source_url = clients[0].base_url
    log = structlog.get_logger("omnimigrate.backup").bind(instance=instance)
    if options.restart and (
        discarded := await asyncio.to_thread(_discard_open_run, store, instance, cache_dir)
    ):
        log.info("backup.restart", discarded=discarded)
    run, resumed = await asyncio.to_thread(_open_run, store, instance, options, now)
    log = log.bind(snapshot=run.snapshot_id)
    log.info("backup.resume" if resumed else "backup.start")
    checkpoints = await asyncio.to_thread(
        open_checkpoints, store, instance, run.snapshot_id, cache_dir
    )
    previous = None if options.full else await asyncio.to_thread(Catalog(store).latest, instance)
    walker = platform_named(clients[0].platform).walker(
        BlobStore(
            store,
            known={o.blob for o in previous.objects if o.blob} if previous else None,
            cipher=cipher,
        ),
        PathFilter(options.include, options.exclude),
        previous,
    )
    empty = _empty_selection(options, walker, store, instance)
    queue = JobQueue(
        on_result=lambda job, result: checkpoints.record(job.key, result),
        on_progress=_refusing_nothing(on_progress, checkpoints, empty),
        max_attempts=options.max_attempts,
        retry_delay=options.retry_delay,
    )
    gone = await asyncio.to_thread(_blobs_gone, store, checkpoints, run) if resumed else set()
    skipped = _replay(checkpoints, queue, walker, gone)
    try:
        stats = await _drain(queue, walker, clients, options, checkpoints, instance, run)
    except NothingSelected:  # known once the listings are in, not after every read
        await asyncio.to_thread(mark_run_closed, store, instance)
        await asyncio.to_thread(checkpoints.discard)
        raise
    manifest = await asyncio.to_thread(
        _commit,
        lock,
        checkpoints,
        run,
        source_url,
        clients,
        stats.dead,
        previous,
        now,
        cipher,
        empty,
    )
    log.info("backup.committed", status=manifest.status, objects=object_count(manifest))
    return BackupOutcome(
        manifest=manifest,
        resumed=resumed,
        exports=walker.exports,
        reused_exports=walker.reused,
        jobs_done=stats.done,
        jobs_skipped=skipped,
        dead=stats.dead,
        bytes_written=walker.blobs.bytes_written,
    )


async def _drain(queue: JobQueue, walker: Walker, clients: list[Client], options: BackupOptions,
                 checkpoints: Checkpoints, instance: str, run: RunInfo) -> QueueStats:  # fmt: skip
    try:
        return await queue.run(
            [functools.partial(walker.run, client=c) for c in clients], options.concurrency
        )
    except ListingFailed as exc:
        await asyncio.to_thread(checkpoints.flush)
        raise BackupFailed(
            f"backup of {instance} stopped: {exc}; the snapshot {run.snapshot_id} stays open "
            "and the same command resumes it"
        ) from exc
    finally:
        await asyncio.to_thread(checkpoints.flush)


def _refusing_nothing(
    on_progress: Callable[[int, int | None], None],
    checkpoints: Checkpoints,
    empty: Callable[[list[ObjectEntry]], str | None],
) -> Callable[[int, int | None], None]:
    """Progress that, when the listings are all in (the total is known), raises
    NothingSelected if the filters selected no content: folders and documents come from the
    listings, so every read job after them would be wasted."""
    decided = False

    def progress(done: int, total: int | None) -> None:
        nonlocal decided
        on_progress(done, total)
        if total is not None and not decided:
            decided = True
            entries = [e for _, result in checkpoints.results() for e in result.entries]
            if problem := empty(entries):
                raise NothingSelected(problem)

    return progress


def _empty_selection(
    options: BackupOptions, walker: Walker, store: Store, instance: str
) -> Callable[[list[ObjectEntry]], str | None]:
    """What is wrong with a run whose folder filter selected no content, if that is so."""

    def problem(entries: list[ObjectEntry]) -> str | None:
        filtered = options.include or options.exclude
        if not filtered or options.allow_empty:
            return None
        if any(e.type in walker.content_types for e in entries):
            return None
        given = " ".join([*(f"--include {p!r}" for p in options.include),
                          *(f"--exclude {p!r}" for p in options.exclude)])  # fmt: skip
        nothing = " and no ".join(walker.content_types)  # the entry types of content
        return (
            f"{given} matched no {nothing}, so no snapshot was made (the latest "
            f"stays as it was): check the paths ({_where_paths_are(store, instance)}), "
            "or pass --allow-empty"
        )

    return problem


def _where_paths_are(store: Store, instance: str) -> str:
    """What lists an instance's folder paths: its latest snapshot, and before the first one
    (which `snapshots show` would not find), a backup without the filter."""
    if Catalog(store).refs(instance):
        show = command_line(
            "snapshots", "show", "latest", objects=True, store=store.url, instance=instance
        )
        return f"`{show}` lists them"
    return "back up once without the filter: its snapshot lists them (snapshots show --objects)"


def _discard_open_run(store: Store, instance: str, cache_dir: Path) -> str | None:
    """Forget a killed run's progress (its snapshot id, if there was one); the blobs it wrote
    stay, for the next snapshot to reuse or GC to collect."""
    run = read_open_run(store, instance)
    if run is None:
        return None
    open_checkpoints(store, instance, run.snapshot_id, cache_dir).discard()
    mark_run_closed(store, instance)
    return run.snapshot_id


def _check_filters(run: RunInfo, options: BackupOptions) -> None:
    """A killed run resumes with the filters it was started with, or not at all."""
    then = tuple(_run_filter(run, name) for name in ("include", "exclude"))
    if then == (list(options.include), list(options.exclude)):
        return
    raise OtherFilters(
        f"the open run of this instance (snapshot {run.snapshot_id}, killed before it "
        f"committed) was started with {_filters(*then)}, not {_filters(options.include, options.exclude)}: "
        "run it again with those to resume it, or add --restart to discard it and start anew"
    )


def _run_filter(run: RunInfo, name: str) -> list[str]:
    value = run.options.get(name)  # a list, as _open_run writes it
    return [str(p) for p in value] if isinstance(value, list) else []


def _filters(include: Iterable[str], exclude: Iterable[str]) -> str:
    given = [*(f"--include {p!r}" for p in include), *(f"--exclude {p!r}" for p in exclude)]
    return " ".join(given) or "no --include or --exclude"


def _open_run(
    store: Store, instance: str, options: BackupOptions, now: Now
) -> tuple[RunInfo, bool]:
    """Resume the open run of this instance, or start one. A run whose manifest is already
    committed (killed between commit and cleanup) is closed first."""
    run = read_open_run(store, instance)
    if run is not None and store.exists(manifest_key(instance, run.snapshot_id)):
        mark_run_closed(store, instance)
        run = None
    if run is not None:
        _check_filters(run, options)
        return run, True
    started = now()
    run = RunInfo(
        snapshot_id=new_snapshot_id(started),
        started_at=started,
        options={
            "full": options.full,
            "include": list(options.include),
            "exclude": list(options.exclude),
        },
    )
    mark_run_open(store, instance, run)
    return run, False


def _blobs_gone(store: Store, checkpoints: Checkpoints, run: RunInfo) -> set[str]:
    """Blobs of this run that a GC since its start deleted (rare: GC keeps recent blobs)."""
    if last_gc(store) < run.started_at.timestamp():
        return set()
    refs = {e.blob for _, r in checkpoints.results() for e in r.entries if e.blob}
    return {ref for ref in refs if not store.exists(blob_key(ref))}


def _replay(checkpoints: Checkpoints, queue: JobQueue, walker: Walker, gone: set[str]) -> int:
    """Queue what an earlier attempt of this run did not finish (or whose blobs a GC has
    since deleted); returns the jobs skipped."""
    done: set[str] = set()
    pending = list(walker.roots())
    for key, result in checkpoints.results():
        if any(e.blob in gone for e in result.entries):
            continue
        done.add(key)
        pending += result.children
    # a run another version started names jobs this one cannot do: say so before any request
    unknown = next((job for job in pending if job.kind not in walker.job_kinds), None)
    if unknown is not None:
        raise UnknownJob(unknown)
    queue.add(pending, skip=done)
    return len(done)


def _commit(
    lock: InstanceLock,
    checkpoints: Checkpoints,
    run: RunInfo,
    source_url: str,
    clients: list[Client],
    dead: list[DeadLetter],
    previous: Manifest | None,
    now: Now,
    cipher: Cipher | None,
    empty: Callable[[list[ObjectEntry]], str | None],
) -> Manifest:
    store, instance = lock.store, lock.instance
    objects: dict[tuple[str, str], ObjectEntry] = {}
    facts: dict[str, str] = {}
    lost: list[Failure] = []
    for key, result in checkpoints.results():
        facts.update(result.facts)
        lost += [Failure(job=key.split("|")[0], object=key, error=why) for why in result.lost]
        for entry in result.entries:
            objects[(entry.type, entry.key)] = entry
    ordered = [objects[k] for k in sorted(objects)]
    if problem := empty(ordered):
        mark_run_closed(store, instance)
        checkpoints.discard()
        raise NothingSelected(problem)
    flavour = facts.get("export_flavour") or (previous.export_flavour if previous else "none")
    manifest = Manifest(
        platform=clients[0].platform,
        snapshot_id=run.snapshot_id,
        instance=instance,
        source_url=source_url,
        status="partial" if dead or lost else "complete",
        started_at=run.started_at,
        finished_at=now(),
        export_flavour=flavour,
        encryption=f"aes-256-gcm key {cipher.fingerprint}" if cipher else None,
        options=run.options,
        counts=count_objects(ordered),
        keys=key_stats(clients),
        failures=[
            Failure(job=d.job.kind, object=d.job.args.get("key", d.job.key), error=d.error)
            for d in dead
        ]
        + lost,
    )
    manifest.objects = ordered  # already validated entries: no second copy of the inventory
    lock.renew()  # still this run's: a lock lost since the last heartbeat commits nothing
    store.put(manifest_key(instance, run.snapshot_id), dump_manifest(manifest))
    mark_run_closed(store, instance)
    checkpoints.discard()
    return manifest
