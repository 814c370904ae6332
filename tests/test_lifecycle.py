"""Snapshot lifecycle on both stores (a folder and moto's S3 server): verify, diff, prune and
garbage collection (also beside a running backup), locks, client-side encryption."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from omnimigrate.engine.checkpoints import read_open_run
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeSettings
from omnimigrate.snapshot.blobs import BlobError, BlobStore, blob_key
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.check import check
from omnimigrate.snapshot.crypto import MAGIC, Cipher, EncryptionError, open_cipher
from omnimigrate.snapshot.diff import diff
from omnimigrate.snapshot.gc import prune
from omnimigrate.snapshot.lock import InstanceLock, Locked, LockInfo, LockLost, lock_key
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry, dump_manifest, manifest_key
from omnimigrate.snapshot.retention import RetentionRules
from omnimigrate.snapshot.store import LocalStore, Store, StoreError
from tests.backup_helpers import backup, exported


@pytest.fixture(params=["local", "moto"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("make_s3_store")("moto")


async def two_snapshots(start_fake, store, tmp_path):
    scenario = generate(ScenarioSpec(documents=20, seed=61))
    fake = await start_fake(scenario.state)
    first = await backup(fake, store, tmp_path / "cache", [scenario.org_token])
    state = scenario.state
    doc = next(d for d in state.documents.values() if d.permits and d.folder_id and not d.deleted)
    user = next(u for u in state.users.values() if all(p.user_id != u.id for p in doc.permits))
    doc.permits.append(type(doc.permits[0])(user_id=user.id, role="VIEWER"))
    paused = next(s for s in state.schedules.values() if not s.disabled_at)
    paused.disabled_at = "2026-11-23T03:00:00Z"
    second = await backup(fake, store, tmp_path / "cache", [scenario.org_token])
    return first.manifest, second.manifest, doc, user, paused


@pytest.mark.slow
async def test_verify_finds_a_flipped_byte_a_deleted_blob_and_a_truncated_manifest(
    start_fake, store, tmp_path
):
    first, second, *_ = await two_snapshots(start_fake, store, tmp_path)
    catalog = Catalog(store)
    refs = catalog.refs()
    clean = check(catalog, refs, BlobStore(store))
    assert clean.faults == [] and clean.blobs_checked > 50

    exports = [o for o in second.objects if o.type == "document_export" and o.blob]
    flipped, deleted = exports[0], exports[1]
    data = bytearray(store.get(blob_key(flipped.blob)))
    data[len(data) // 2] ^= 0x01
    store.put(blob_key(flipped.blob), bytes(data))
    store.delete(blob_key(deleted.blob))
    store.put(manifest_key(first.instance, first.snapshot_id), dump_manifest(first)[:100])

    report = check(catalog, refs, BlobStore(store))
    by_where = {(f.snapshot, f.where): f.problem for f in report.faults}
    assert "is not JSON" in by_where[(first.snapshot_id, "manifest")]
    assert "corrupt" in by_where[(second.snapshot_id, f"document_export {flipped.key}")]
    assert "missing" in by_where[(second.snapshot_id, f"document_export {deleted.key}")]
    sampled = check(catalog, refs, BlobStore(store), subset=0.5)
    assert 0 < sampled.blobs_checked < clean.blobs_checked


async def test_diff_names_a_granted_permission_and_a_paused_schedule(start_fake, store, tmp_path):
    first, second, doc, user, paused = await two_snapshots(start_fake, store, tmp_path)
    result = diff(first, second, BlobStore(store))
    perms = result["document_permissions"].changed[doc.identifier]
    assert any(c.startswith("+") and user.id in c for c in perms), perms
    changes = result["schedule"].changed[f"{paused.identifier}/{paused.name}"]
    assert any("disabledAt: None ->" in c for c in changes), changes
    assert "document_export" not in result  # nothing else changed


def nightly(store, days: int, end: datetime) -> list[Manifest]:
    """Synthetic nightly snapshots: each has a blob of its own and one shared by all."""
    blobs = BlobStore(store)
    shared = blobs.put({"shared": True})
    made = []
    for i in range(days):
        at = end - timedelta(days=days - 1 - i)
        own = blobs.put({"night": at.isoformat()})
        m = Manifest(
            snapshot_id=at.strftime("%Y%m%dT%H%M%S.000000Z"), instance="acme.omniapp.co",
            source_url="https://acme.omniapp.co", status="complete", started_at=at, finished_at=at,
            objects=[ObjectEntry(type="label", key="shared", blob=shared),
                     ObjectEntry(type="document", key=f"d{i}", blob=own)],
        )  # fmt: skip
        store.put(manifest_key(m.instance, m.snapshot_id), dump_manifest(m))
        made.append(m)
    return made


@pytest.mark.slow
def test_prune_keeps_exactly_seven_dailies_and_four_weeklies_and_frees_blobs(store):
    made = nightly(store, 60, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # a Monday
    rules = RetentionRules(keep_daily=7, keep_weekly=4)
    dry = prune(store, rules, dry_run=True)
    assert len(list(Catalog(store).refs())) == 60 and dry.blobs_deleted == 0
    report = prune(store, rules, grace_seconds=0, clock=lambda: time.time() + 5)
    kept = sorted(r.snapshot_id[:8] for r in Catalog(store).refs())
    # dailies Nov 17-23; weeklies: newest of ISO weeks 48 (23rd), 47 (22nd), 46 (15th), 45 (8th)
    assert kept == ["20261108", "20261115", *(f"202611{d}" for d in range(17, 24))]
    assert len(report.forgotten) == 51
    remaining = {o.blob for m in made if m.snapshot_id[:8] in kept for o in m.objects}
    stored = {k.rsplit("/", 1)[-1] for k in store.list("blobs/")}
    assert stored == remaining  # the forgotten snapshots' own blobs are gone, the shared one stays
    assert check(Catalog(store), Catalog(store).refs(), BlobStore(store)).faults == []


def test_prune_never_deletes_the_newest_complete_snapshot(store):
    made = nightly(store, 3, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    newest = made[-1].model_copy(update={"status": "partial"})
    store.put(manifest_key(newest.instance, newest.snapshot_id), dump_manifest(newest))
    prune(store, RetentionRules(keep_last=1), grace_seconds=0, clock=lambda: time.time() + 5)
    kept = [r.snapshot_id for r in Catalog(store).refs()]
    assert kept == [made[1].snapshot_id, made[2].snapshot_id]  # the newest complete, and the last


@pytest.mark.slow
async def test_gc_beside_a_running_backup_loses_nothing(start_fake, store, tmp_path):
    scenario = generate(ScenarioSpec(documents=60, seed=67))
    fake = await start_fake(scenario.state, FakeSettings(rate_limit=None))
    await backup(fake, store, tmp_path / "cache", [scenario.org_token])
    orphans = [BlobStore(store).put({"orphan": i}) for i in range(5)]
    if isinstance(store, LocalStore):  # age them past the grace period
        for ref in orphans:
            os.utime(store.root / blob_key(ref), (time.time() - 7200, time.time() - 7200))
    stop = threading.Event()

    def gc_loop() -> None:
        while not stop.is_set():
            prune(store, RetentionRules(keep_last=1), grace_seconds=600)

    gc = threading.Thread(target=gc_loop)
    gc.start()
    try:
        outcome = await backup(
            fake, store, tmp_path / "cache", [scenario.org_token], full=True, rate=400
        )
    finally:
        stop.set()
        await asyncio.to_thread(gc.join)
    catalog = Catalog(store)
    assert outcome.manifest.snapshot_id in [r.snapshot_id for r in catalog.refs()]
    assert check(catalog, catalog.refs(), BlobStore(store)).faults == []
    if isinstance(store, LocalStore):
        assert not any(store.exists(blob_key(ref)) for ref in orphans)  # GC did run


def test_lock_excludes_a_second_run_until_its_lease_expires(store):
    now = [1000.0]
    first = InstanceLock(store, "acme.omniapp.co", ttl=60, clock=lambda: now[0])
    second = InstanceLock(store, "acme.omniapp.co", ttl=60, clock=lambda: now[0])
    first.acquire()
    with pytest.raises(Locked, match=r"locked by run-\w+ \(host .*pid \d+; lease until"):
        second.acquire()
    now[0] += 30
    first.renew()
    now[0] += 45  # within the renewed lease
    with pytest.raises(Locked):
        second.acquire()
    now[0] += 20  # the holder died; its lease ran out
    second.acquire()
    with pytest.raises(Locked, match="lost the lock"):
        first.renew()
    first.release()  # not the holder: changes nothing
    assert second.current().holder == second.me
    assert InstanceLock(store, "acme.omniapp.co").force_unlock().holder == second.me
    assert second.current() is None


class LosesItsLock:
    """A store whose lock of `instance` is removed (as `snapshots unlock` elsewhere would) by
    the `after`-th blob write; `gone` is set then."""

    def __init__(self, store: Store, instance: str, after: int) -> None:
        self.inner, self.instance, self.after = store, instance, after
        self.blobs = 0
        self.gone = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def __getattr__(self, name: str):  # everything else: the store itself
        return getattr(self.inner, name)

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, data)
        if key.startswith("blobs/"):
            self.blobs += 1
            if self.blobs == self.after:
                self.inner.delete(lock_key(self.instance))
                self.loop.call_soon_threadsafe(self.gone.set)


@pytest.mark.parametrize("noticed_by", ["heartbeat", "commit"])
async def test_a_backup_that_loses_its_lock_stops_commits_nothing_and_a_rerun_resumes(
    start_fake, store, tmp_path, noticed_by
):
    scenario = generate(ScenarioSpec(documents=20, seed=67))
    fake = await start_fake(scenario.state)
    lossy = LosesItsLock(store, "acme", after=3)
    never = asyncio.Event()

    async def heartbeat(interval: float) -> None:  # the next renewal: once the lock is gone
        await (lossy.gone if noticed_by == "heartbeat" else never).wait()

    with pytest.raises(LockLost, match=r"lost the lock locks/acme\.json in \S+ mid-run \(it was "
                       r"removed\): this run stopped .* run the same command again"):  # fmt: skip
        await backup(fake, lossy, tmp_path / "cache", [scenario.org_token], instance="acme",
                     heartbeat=heartbeat)  # fmt: skip
    assert Catalog(store).refs() == []  # nothing committed
    assert read_open_run(store, "acme") is not None  # what it wrote is there to resume
    assert store.exists(lock_key("acme")) is False  # not re-created by a renewal or a release
    documents = sum(not d.deleted for d in scenario.state.documents.values())
    if noticed_by == "heartbeat":  # stopped mid-run, not at the end
        assert len(exported(fake)) < documents / 2, (len(exported(fake)), documents)
    again = await backup(fake, store, tmp_path / "cache", [scenario.org_token], instance="acme")
    assert again.resumed and again.manifest.status == "complete"
    assert [r.snapshot_id for r in Catalog(store).refs()] == [again.manifest.snapshot_id]


class RefusesPuts:
    """A store that takes the lock (a create) and then refuses every put: its renewals."""

    def __init__(self, store: Store) -> None:
        self.inner = store

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def put(self, key: str, data: bytes) -> None:
        raise StoreError(f"{self.inner.url}: 503 Slow Down")


@pytest.mark.parametrize("loss", ["taken over", "store failed"])
async def test_a_lost_renewal_cancels_the_work_and_names_the_lock(store, loss):
    """Whoever holds the lock (a backup, the service's restore): its work is cancelled."""
    beat = asyncio.Event()
    lock = InstanceLock(RefusesPuts(store) if loss == "store failed" else store,
                        "restore.dr", sleep=lambda _: beat.wait())  # fmt: skip
    cancelled = asyncio.Event()

    async def work(took_over: bool) -> str:
        if loss == "taken over":
            other = LockInfo(
                holder="run-other", host="elsewhere", pid=7, acquired_at=0, expires_at=2e9
            )
            await asyncio.to_thread(
                store.put, lock_key("restore.dr"), other.model_dump_json().encode()
            )
        beat.set()
        try:
            await asyncio.Event().wait()  # works until cancelled
        finally:
            cancelled.set()
        return "finished"

    why = (
        r"now held by run-other \(host elsewhere"
        if loss == "taken over"
        else r"the store failed: .*503"
    )
    with pytest.raises(LockLost, match=rf"lost the lock locks/restore\.dr\.json in .*\({why}"):
        await lock.run_held(work)
    assert cancelled.is_set()
    held = InstanceLock(store, "restore.dr").current()
    # another's lock is left to it; one the store could not renew is left to run out
    assert held is not None and held.holder == ("run-other" if loss == "taken over" else lock.me)


def test_client_side_encryption_seals_blobs_and_refuses_a_wrong_or_missing_key(store):
    key, wrong = os.urandom(32), os.urandom(32)
    cipher = open_cipher(store, key=key, create=True)
    assert isinstance(cipher, Cipher)
    ref = BlobStore(store, cipher=cipher).put({"dashboard": "secret numbers"})
    raw = store.get(blob_key(ref))
    assert raw.startswith(MAGIC) and b"secret" not in raw
    with pytest.raises(zlib.error):
        zlib.decompress(raw)
    assert BlobStore(store, cipher=open_cipher(store, key=key)).get(ref) == {
        "dashboard": "secret numbers"
    }
    with pytest.raises(EncryptionError, match=r"wrong encryption key .* encrypted with key"):
        open_cipher(store, key=wrong)
    with pytest.raises(EncryptionError, match=r"is encrypted .* OMNIMIGRATE_ENCRYPTION_KEY"):
        open_cipher(store)
    with pytest.raises(BlobError, match="encrypted: give the store's encryption key"):
        BlobStore(store).get(ref)
    with pytest.raises(BlobError, match="cannot decrypt"):
        BlobStore(store, cipher=Cipher(wrong)).get(ref)


def test_kms_data_key_encryption(store, moto_endpoint):
    import boto3

    kms = boto3.client("kms", endpoint_url=moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    cipher = open_cipher(store, kms_key_id=key_id, kms=kms, create=True)
    ref = BlobStore(store, cipher=cipher).put({"x": 1})
    again = open_cipher(store, kms=kms)
    assert again.fingerprint == cipher.fingerprint and BlobStore(store, cipher=again).get(ref) == {
        "x": 1
    }
    with pytest.raises(EncryptionError, match="KMS data key"):
        open_cipher(store)
