"""Hostile or broken input: fuzzed manifests, blobs and keys never crash omnimigrate with
anything but its documented errors, and never reach outside the store; secrets in exported
objects are flagged and masked."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimigrate.engine.restore import open_snapshot
from omnimigrate.snapshot.blobs import BlobError, BlobStore, blob_key
from omnimigrate.snapshot.catalog import SnapshotNotFound
from omnimigrate.snapshot.manifest import Manifest, SnapshotFormatError, load_manifest, manifest_key
from omnimigrate.snapshot.secrets import MASK, find_secrets, mask
from omnimigrate.snapshot.store import LocalStore, StoreError, check_key

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
MANIFEST_FIELDS = ["format_version", "snapshot_id", "instance", "source_url", "status", "started_at",
                   "finished_at", "objects", "counts", "failures", "keys", "encryption"]  # fmt: skip
manifest_like = st.fixed_dictionaries(
    {"format_version": st.sampled_from([1, 1, 1, 2, "1", None])},
    optional={k: json_values for k in MANIFEST_FIELDS[1:]},
)


@FUZZ
@given(st.binary(max_size=300) | manifest_like.map(lambda d: json.dumps(d).encode()))
def test_manifest_parsing_fails_only_with_the_documented_error(data):
    try:
        assert isinstance(load_manifest(data, "snapshots/x/y/manifest.json"), Manifest)
    except SnapshotFormatError as exc:
        assert "snapshots/x/y/manifest.json" in str(exc)


@FUZZ
@given(data=st.binary(max_size=300))
def test_a_blob_that_does_not_match_its_name_is_always_rejected(tmp_path, data):
    store = LocalStore(tmp_path / "s")
    ref = "ab" + "0" * 62
    store.put(blob_key(ref), data)
    try:
        BlobStore(store).get(ref)
    except BlobError as exc:
        assert blob_key(ref) in str(exc)
    else:
        raise AssertionError("a forged blob was accepted")


@FUZZ
@given(
    key=st.text(max_size=120)
    | st.lists(st.sampled_from(["..", ".", "", "a", "/", "\x00", "~", "b.c"]), max_size=8).map(
        "/".join
    )
)
def test_no_key_escapes_the_store(tmp_path, key):
    root = (tmp_path / "s").resolve()
    store = LocalStore(root)
    try:
        check_key(key)
    except StoreError:
        return
    path = store._path(key).resolve()
    assert path.is_relative_to(root) and "\x00" not in str(path)


@FUZZ
@given(manifest=manifest_like, name=st.sampled_from(["20261123T020000.000000Z", "x", "latest"]))
def test_restore_refuses_a_broken_snapshot_before_anything_else(tmp_path, manifest, name):
    store = LocalStore(tmp_path / "s")
    store.put(
        manifest_key("acme.omniapp.co", "20261123T020000.000000Z"), json.dumps(manifest).encode()
    )
    before = sorted(Path(tmp_path).rglob("*"))
    with contextlib.suppress(SnapshotFormatError, SnapshotNotFound, BlobError):
        open_snapshot(store, name)
    assert sorted(Path(tmp_path).rglob("*")) == before  # read-only, whatever it was given


def test_secrets_in_exported_objects_are_flagged_and_masked():
    schedule = {
        "destinations": [{"metadata": {"webhookUrl": "https://hooks.example.com/x?token=whsec_1"}}],
        "name": "weekly",
        "sftp": {"password": "hunter2", "host": "sftp.example.com"},
        "link": "https://bob:pw@files.example.com/",
        "plain": "https://omni.example.com/dashboards/abc",
    }
    assert sorted(find_secrets(schedule)) == [
        "destinations[0].metadata.webhookUrl", "link", "sftp.password",
    ]  # fmt: skip
    masked = mask(schedule)
    assert masked["sftp"] == {"password": MASK, "host": "sftp.example.com"}
    assert masked["destinations"][0]["metadata"]["webhookUrl"] == MASK
    assert masked["plain"] == schedule["plain"] and "hunter2" not in json.dumps(masked)
