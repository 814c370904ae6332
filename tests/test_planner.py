"""The planner is pure: typed snapshot + target inventory + ledger in, a Plan out. No I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import omnimigrate.cli.plan  # noqa: F401  (registers plan)
from omnimigrate.cli.app import cli
from omnimigrate.engine.apply import RestoreError, check_order
from omnimigrate.engine.restore_ledger import LedgerRecord
from omnimigrate.platforms.omni.delivery import Delivery
from omnimigrate.platforms.omni.handlers.documents import (
    DOCUMENT_STEPS,
    SourceDocument,
    TargetDocument,
    after,
)
from omnimigrate.platforms.omni.handlers.folders import SourceFolder, TargetFolder
from omnimigrate.platforms.omni.handlers.identities import SourceUser
from omnimigrate.platforms.omni.handlers.labels import SourceLabel
from omnimigrate.platforms.omni.handlers.models import SourceModel, TargetModel
from omnimigrate.platforms.omni.handlers.schedules import SourceSchedule
from omnimigrate.platforms.omni.options import OmniRestoreOptions
from omnimigrate.platforms.omni.phases import make_plan
from omnimigrate.platforms.omni.principals import Grant, Principal
from omnimigrate.platforms.omni.registry import REGISTRY, SnapshotView, TargetInventory

NOW = datetime(2026, 11, 23, tzinfo=UTC)
MODEL = "wh/SHARED/Sales"


def source() -> SnapshotView:
    ann = Principal(kind="user", key="ann@acme.example")
    org = SnapshotView(snapshot_id="s1", instance="src", export_flavour="official")
    org.users = {u: SourceUser(email=u) for u in ("ann@acme.example", "bob@acme.example")}
    org.labels = {"Finance": SourceLabel(name="Finance", verified=True)}
    org.models = {
        MODEL: SourceModel(key=MODEL, source_id="m-src", kind="SHARED", files={"model.yaml": "x"})
    }
    folder = dict(scope="organization", owner="ann@acme.example")
    org.folders = {
        "sales": SourceFolder(path="sales", name="Sales", **folder),
        "sales/q1": SourceFolder(
            path="sales/q1", name="Q1", grants=[Grant(principal=ann, role="VIEWER")], **folder
        ),
    }
    doc = dict(model=MODEL, export_blob="a" * 64, owner="bob@acme.example", scope="organization")
    org.documents = {
        "d1": SourceDocument(identifier="d1", name="Board", folder_path="sales/q1", labels=["Finance"],
                             grants=[Grant(principal=ann, role="EDITOR")], **doc),
        "d2": SourceDocument(identifier="d2", name="Ops", **doc),
        "d3": SourceDocument(identifier="d3", name="Old", deleted=True, **doc),
    }  # fmt: skip
    when = dict(format="pdf", cron="0 8 * * 1", timezone="UTC")
    org.schedules = {
        "d1/weekly": SourceSchedule(key="d1/weekly", identifier="d1", name="weekly", owner="bob@acme.example",
                                    delivery=Delivery(destination="s3", settings={"bucketName": "b"}, **when)),
        "d1/sheet": SourceSchedule(key="d1/sheet", identifier="d1", name="sheet",
                                   delivery=Delivery(destination="google_sheets", **when)),
    }  # fmt: skip
    return org


def target(**kw) -> TargetInventory:
    inv = TargetInventory(
        url="https://dr.example",
        users={"ann@acme.example": "u-ann", "bob@acme.example": "u-bob"},
        models={MODEL: TargetModel(id="m-tgt", key=MODEL, kind="SHARED")},
    )
    return inv.model_copy(update=kw)


def plan(inv=None, ledger=None, **opts):
    return make_plan(source(), inv or target(), ledger or {}, OmniRestoreOptions(**opts), NOW)


def ops(p) -> dict[str, str]:
    return {a.id: a.op for a in p.actions}


def test_a_fresh_target_gets_everything_in_dependency_order():
    p = plan(models=True)
    order = [a.id for a in p.actions]
    assert (
        order.index("folder:sales")
        < order.index("folder:sales/q1")
        < order.index("document:d1:import")
    )
    # the permits first: the new owner's explicit permit, which a transfer needs, goes with them
    assert order.index("document:d1:permissions") < order.index("document:d1:owner")
    assert ops(p)["document:d1:import"] == "create" and "document:d3:import" not in ops(p)
    imp = next(a for a in p.actions if a.id == "document:d1:import")
    assert imp.params["base_model_id"] == "m-tgt" and imp.params["folder_path"] == "sales/q1"
    assert ops(p)["model:wh/SHARED/Sales:yaml"] == "create"
    assert ops(plan(include_deleted=True))["document:d3:import"] == "create"


def test_schedule_destinations_that_lose_secrets_warn_and_uncreatable_ones_block():
    p = plan()
    weekly = next(a for a in p.actions if a.id == "schedule:d1/weekly")
    assert weekly.op == "create" and "S3" in weekly.warning
    sheet = next(a for a in p.actions if a.id == "schedule:d1/sheet")
    assert sheet.op == "blocked" and "Google Sheets" in sheet.reason
    assert next(
        a for a in plan(pause_schedules=True).actions if a.id == "schedule:d1/weekly"
    ).params["paused"]


def test_ledger_turns_done_work_into_skips_and_started_work_into_adoption():
    first = plan()
    ledger = {a.id: LedgerRecord(status="done", digest=a.digest) for a in first.actions if a.writes}
    inv = target(
        folders={
            p: TargetFolder(id=p, path=p, scope="organization") for p in ("sales", "sales/q1")
        },
        documents={i: TargetDocument(identifier=i) for i in ("d1", "d2")},
        labels={"finance": {"verified": True, "homepage": False}},
    )
    inv.schedules = {}
    again = plan(inv, ledger)
    assert {op for k, op in ops(again).items() if k.startswith("document:")} == {"skip"}
    ledger["document:d2:import"] = replace(ledger["document:d2:import"], status="started")
    adopted = next(a for a in plan(inv, ledger).actions if a.id == "document:d2:import")
    assert adopted.adopt and not adopted.writes


def test_conflicts_and_missing_identities_are_reported_before_anything_is_written():
    inv = target(
        documents={"d1": TargetDocument(identifier="d1")}, users={"bob@acme.example": "u-bob"}
    )
    p = plan(inv)
    assert ops(p)["document:d1:import"] == "conflict"
    assert ops(p)["document:d1:labels"] == "skip"  # left alone with its document
    assert ops(p)["folder:sales/q1:permissions:user:ann@acme.example"] == "blocked"
    assert ops(plan(inv, on_conflict="overwrite"))["document:d1:import"] == "update"
    renamed = next(
        a for a in plan(inv, on_conflict="rename").actions if a.id == "document:d1:import"
    )
    assert renamed.op == "create" and renamed.params["rename"]
    created = plan(inv, create_missing_users=True)
    assert ops(created)["user:ann@acme.example"] == "create"
    no_model = plan(target(models={}))
    assert ops(no_model)["document:d1:import"] == "blocked"
    assert ops(no_model)["document:d1:labels"] == "blocked"
    mapped = plan(
        target(models={"x": TargetModel(id="m-other", key="x", kind="SHARED")}),
        model_map={"m-src": "m-other"},
    )
    assert (
        next(a for a in mapped.actions if a.id == "document:d1:import").params["base_model_id"]
        == "m-other"
    )


def test_scope_by_label_identifier_and_folder_glob():
    assert {
        k for k, _ in ops(plan(include=["label:finance"])).items() if k.endswith(":import")
    } == {"document:d1:import"}
    assert {k for k in ops(plan(include=["document:d2"])) if k.endswith(":import")} == {
        "document:d2:import"
    }
    only_folder = ops(plan(include=["sales"]))
    assert "folder:sales/q1" in only_folder and "document:d2:import" not in only_folder
    assert "document:d1:import" not in ops(plan(exclude=["sales/*"]))


def test_the_plan_follows_the_declared_restore_order():
    p = plan(models=True)
    by_id = {a.id: a for a in p.actions}
    stage_of = {"user": "identities", "group": "identities", "label": "labels", "folder": "folders",
                "model": "models", "document": "documents", "schedule": "schedules", "role": "roles"}  # fmt: skip
    stages = [s.name for s in REGISTRY.stages]
    seen = [stages.index(stage_of[a.id.split(":")[0]]) for a in p.actions if a.kind != "grant"]
    assert seen == sorted(seen), "actions come out in the restore order"
    for ident in ("d1", "d2"):
        for step, waits, _ in DOCUMENT_STEPS:
            action = by_id.get(f"document:{ident}:{step}")
            if action is not None:
                declared = [f"document:{ident}:{w}" for w in waits]
                assert after(ident, step) == declared
                present = {w for w in declared if w in by_id}
                assert present <= set(action.depends_on), (action.id, action.depends_on)
    # the model's own YAML is written before the documents on that model are imported
    assert "model:wh/SHARED/Sales:yaml" in by_id["document:d1:import"].depends_on
    without_yaml = {a.id: a for a in plan().actions}  # no --models: nothing to wait for
    assert without_yaml["document:d1:import"].depends_on == ["folder:sales/q1"]


def test_explain_order_is_what_the_readme_documents():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("(a test keeps this copy in step):", 1)[1].split("```text\n", 1)[1]
    documented = [line.removeprefix("  ") for line in block.split("  ```", 1)[0].splitlines()]
    assert documented == REGISTRY.explain_order()
    printed = CliRunner().invoke(cli, ["plan", "--explain-order"])
    assert printed.exit_code == 0 and printed.output.splitlines() == REGISTRY.explain_order()
    assert [s.name for s in REGISTRY.stages][:4] == [
        "user attributes",
        "identities",
        "labels",
        "folders",
    ]


def test_every_action_comes_after_what_it_depends_on_and_a_reordered_plan_is_refused():
    p = plan(models=True, create_missing_users=True)
    position = {a.id: i for i, a in enumerate(p.actions)}
    assert all(
        position[d] < position[a.id] for a in p.actions for d in a.depends_on if d in position
    )
    check_order(p.actions)
    with pytest.raises(RestoreError, match=r"before .* which it depends on"):
        check_order(list(reversed(p.actions)))


def test_every_write_a_plan_can_hold_and_every_job_backup_queues_has_its_handler():
    p = plan(models=True, create_missing_users=True, create_missing_groups=True)
    writes = {a.kind for a in p.actions if a.writes or a.adopt}
    assert writes and writes <= REGISTRY.actions.keys()
    assert {a.kind for a in p.actions if a.kind not in REGISTRY.actions} <= {
        "grant",
        "folder.owner",
    }
    # every action id is of a kind a handler declares as its own (`Handler.ids`)
    declared = {kind for h in REGISTRY.handlers for kind in h.ids}
    assert {a.id.split(":", 1)[0] for a in p.actions} <= declared
    jobs = {kind for h in REGISTRY.handlers for kind in h.jobs}
    queued = {t.kind for h in REGISTRY.handlers for t in (*h.per_user, *h.per_group)}
    assert {kind for h in REGISTRY.handlers for kind in h.roots} | queued <= jobs
