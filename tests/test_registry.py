"""The engine's registry: the integrity both platforms' restore orders get from it, and the
dispatch by kind its runner and walker do."""

from __future__ import annotations

import asyncio

import pytest

from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.handler import ActionKind, Handler, Registry, Runner, Stage, Walker
from omnimigrate.engine.jobs import Job, JobResult, UnknownJob
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.registry import REGISTRY as LIGHTDASH
from omnimigrate.platforms.omni.registry import REGISTRY as OMNI


async def wrote(ctx: list[str], _client: object, action: Action) -> str | None:
    ctx.append(action.id)
    return None


async def listed(_ctx: object, _client: object, args: object) -> JobResult:
    return JobResult()


def action(kind: str) -> Action:
    return Action(id=f"{kind}:k", kind=kind, object="k", op="create")


@pytest.mark.parametrize(
    ("second", "refused"),
    [
        (Handler("b", actions={"x.write": ActionKind(wrote)}), "action kinds"),
        (Handler("b", jobs={"x_list": listed}), "job kinds"),
        (Handler("b", ids=("x",)), "id kinds"),
        (Handler("b", selectors={"x": lambda _o, _v: True}), "selectors"),
        (Handler("a"), "share a name"),
    ],
)
def test_two_types_claiming_one_kind_are_refused(second: Handler, refused: str) -> None:
    first = Handler(
        "a", actions={"x.write": ActionKind(wrote)}, jobs={"x_list": listed}, ids=("x",),
        selectors={"x": lambda _o, _v: True},
    )  # fmt: skip
    with pytest.raises(ValueError, match=refused):
        Registry((Stage(first, "first"), Stage(second, "second")))


def test_both_platforms_registries_hold_every_kind_once() -> None:
    # built at import: a duplicate would have failed it; each kind dispatches to one type
    for registry in (OMNI, LIGHTDASH):
        owners = [k for h in registry.handlers for k in h.actions]
        assert len(owners) == len(set(owners)) == len(registry.actions)
    assert LIGHTDASH.actions["ld.space"].creates and LIGHTDASH.actions["ld.space"].adopt
    assert LIGHTDASH.keeps == {"ld_chart", "ld_dashboard"}
    assert LIGHTDASH.content == ("ld_space", "ld_chart", "ld_dashboard")
    assert OMNI.content == ("folder", "document") and OMNI.keeps == {"document_export"}
    assert {"label", "document", "doc"} <= OMNI.selectors.keys()
    assert {"chart", "dashboard", "sqlchart", "scheduler"} <= LIGHTDASH.selectors.keys()


def test_explain_order_numbers_the_stages_with_their_reasons_and_steps() -> None:
    registry = Registry((Stage(Handler("a"), "first"), Stage(Handler("b", explain=("s",)), "then")))
    assert registry.explain_order() == ["1. a: first", "2. b: then", "   - s"]


def test_the_runner_and_the_walker_dispatch_by_kind_and_refuse_an_unknown_one() -> None:
    registry = Registry((Stage(Handler("a", actions={"x.write": ActionKind(wrote, creates=True)},
                                       jobs={"x_list": listed}, roots=("x_list",)), "first"),))  # fmt: skip
    written: list[str] = []
    runner = Runner(registry, written)
    assert runner.creates(action("x.write"))
    asyncio.run(runner.apply(action("x.write"), None))
    assert written == ["x.write:k"]
    with pytest.raises(RestoreError, match="not an action this omnimigrate applies"):
        asyncio.run(runner.apply(action("y.write"), None))
    with pytest.raises(RestoreError, match="cannot be adopted"):
        asyncio.run(runner.adopt(action("x.write"), None))

    class Backup:
        blobs = None
        exports = reused = 0

    walker = Walker(Backup(), registry, jobs={"p_list": listed}, roots=("p_list",))
    assert [j.kind for j in walker.roots()] == ["x_list", "p_list"]
    assert walker.job_kinds == {"x_list", "p_list"}
    with pytest.raises(UnknownJob):
        asyncio.run(walker.run(Job(kind="z"), None))
