"""Snapshot format pieces: blobs, manifests, catalog, scope filters (no I/O beyond a folder)."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

import pytest

from omnimigrate.engine.scope import PathFilter
from omnimigrate.snapshot.blobs import BlobError, BlobStore, blob_key, canonical_json
from omnimigrate.snapshot.catalog import Catalog, SnapshotNotFound
from omnimigrate.snapshot.manifest import (
    Manifest,
    SnapshotFormatError,
    dump_manifest,
    load_manifest,
    manifest_key,
)
from omnimigrate.snapshot.store import LocalStore

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def manifest(snapshot_id: str = "20261123T020000.000000Z") -> Manifest:
    return Manifest(
        snapshot_id=snapshot_id,
        instance="acme.omniapp.co",
        source_url="https://acme.omniapp.co",
        status="complete",
        started_at=NOW,
        finished_at=NOW,
    )


def test_blobs_are_content_addressed_and_checked_on_read(tmp_path):
    store = LocalStore(tmp_path)
    blobs = BlobStore(store)
    ref = blobs.put({"b": 1, "a": [1, 2]})
    assert ref == blobs.put({"a": [1, 2], "b": 1}) and blobs.written == 1  # stored once
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    assert blobs.get(ref) == {"a": [1, 2], "b": 1}
    path = tmp_path / blob_key(ref)
    path.write_bytes(zlib.compress(b'{"a":[1,3],"b":1}'))
    with pytest.raises(BlobError, match=f"blobs/{ref[:2]}/{ref} is corrupt: its content"):
        BlobStore(store).get(ref)
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(BlobError, match="not a zlib stream"):
        BlobStore(store).get(ref)
    path.unlink()
    with pytest.raises(BlobError, match="is missing"):
        BlobStore(store).get(ref)
    with pytest.raises(BlobError, match="not a sha256"):
        BlobStore(store).get("../../etc/passwd")


def test_manifest_round_trip_and_clear_refusals():
    m = manifest()
    assert load_manifest(dump_manifest(m), "m.json") == m
    future = json.loads(dump_manifest(m)) | {"format_version": 2}
    with pytest.raises(SnapshotFormatError, match=r"m.json has snapshot format version 2.*upgrade"):
        load_manifest(json.dumps(future).encode(), "m.json")
    with pytest.raises(SnapshotFormatError, match=r"m\.json is not JSON"):
        load_manifest(dump_manifest(m)[:40], "m.json")
    broken = json.loads(dump_manifest(m)) | {"status": "maybe"}
    with pytest.raises(SnapshotFormatError, match=r"m\.json is invalid at status"):
        load_manifest(json.dumps(broken).encode(), "m.json")


def test_catalog_sees_committed_manifests_only(tmp_path):
    store = LocalStore(tmp_path)
    catalog = Catalog(store)
    with pytest.raises(SnapshotNotFound, match="no committed snapshot 'latest'"):
        catalog.resolve("latest")
    for sid in ("20261121T020000.000000Z", "20261122T020000.000000Z"):
        store.put(manifest_key("acme.omniapp.co", sid), dump_manifest(manifest(sid)))
    store.put("runs/acme.omniapp.co/open.json", b"{}")  # a run in progress is not a snapshot
    assert catalog.resolve("latest").snapshot_id == "20261122T020000.000000Z"
    assert catalog.resolve("20261121T020000.000000Z").instance == "acme.omniapp.co"
    assert catalog.latest("other.omniapp.co") is None


@pytest.mark.parametrize(
    ("include", "exclude", "path", "expected"),
    [
        ((), (), "", True),
        (("Finance",), (), "Finance/Q1/board", True),
        (("Finance",), (), "Sales", False),
        (("Fin*",), ("Finance/Drafts",), "Finance/Drafts/x", False),
        ((), ("*/Archive",), "Sales/Archive", False),
        ((), ("Sales/Archive",), "Sales/Archive/2024", False),
    ],
)
def test_path_filter(include, exclude, path, expected):
    assert PathFilter(include, exclude)(path) is expected
