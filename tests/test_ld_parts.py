"""Lightdash's models made of per-handler parts (`registry.py`): each composed model holds every
handler's part, a saved plan's inventory reads back with the same digest, no shared module
names a handler (so a type is its handler module and a registry line), and a handler imports
only the handlers before it in the restore order."""

from __future__ import annotations

from omnimigrate.engine.parts import part
from omnimigrate.platforms.lightdash import registry
from omnimigrate.platforms.lightdash.handlers import charts, groups, spaces, tags
from omnimigrate.platforms.lightdash.registry import REGISTRY
from tests.test_layers import graph

PACKAGE = "omnimigrate.platforms.lightdash"
HANDLERS = f"{PACKAGE}.handlers."
# the content check reads the charts' and dashboards' parts (the validator's rows name them)
READS_CONTENT = {f"{PACKAGE}.content"}


def test_every_composed_model_is_each_handlers_part() -> None:
    for model, field in (
        (registry.Project, "project"),
        (registry.SnapshotView, "view"),
        (registry.TargetState, "state"),
        (registry.TargetIds, "uuids"),
        (registry.TargetInventory, "target"),
    ):
        parts = {getattr(h, field) for h in REGISTRY.handlers} - {None}
        assert parts and all(issubclass(model, p) for p in parts), field
    assert registry.TargetInventory.WRITTEN_BY["tags"] == "ld.tag"


def test_an_inventory_round_trips_through_a_saved_plan_with_its_digest() -> None:
    ids = registry.TargetIds(projects={"Staging": "p1"})
    part(ids, groups.Ids).users["ada@acme.example"] = "u1"
    part(ids, spaces.Ids).spaces["Staging:Finance"] = ("s1", "finance")
    inv = registry.TargetInventory(url="http://ld", ids=ids, space_model="isPrivate")
    part(inv, charts.Target).charts["Staging:orders"] = "abc"
    part(inv, tags.Target).tags["Staging:yaml:core"] = "def"
    part(inv, spaces.Target).space_shares["Staging:Finance"] = spaces.Shares(users={"a": "admin"})
    again = registry.TargetInventory.model_validate_json(inv.model_dump_json())
    assert again.digest() == inv.digest()
    assert part(again.ids, spaces.Ids).spaces == {"Staging:Finance": ("s1", "finance")}
    assert isinstance(part(again, spaces.Target).space_shares["Staging:Finance"], spaces.Shares)
    assert inv.ledger_scope() == again.ledger_scope()


def test_no_shared_module_names_a_handler_and_a_handler_imports_only_earlier_ones() -> None:
    edges = graph()
    modules = [m for m in edges if m.startswith(HANDLERS)]
    ranks = {m: n for n, m in enumerate(_handler_modules())}
    assert set(modules) == set(ranks), "every handler module is in the registry"
    for module, deps in sorted(edges.items()):
        named = {d for d in deps if d.startswith(HANDLERS)}
        if module.startswith(HANDLERS):
            later = sorted(d for d in named if ranks[d] >= ranks[module])
            assert later == [], f"{module} imports a handler at or after its stage: {later}"
        elif module.startswith(PACKAGE + ".") and module != f"{PACKAGE}.registry":
            if module in READS_CONTENT:
                assert named <= {f"{HANDLERS}charts", f"{HANDLERS}dashboards"}, module
            else:
                assert named == set(), f"{module} names a handler: {sorted(named)}"


def _handler_modules() -> list[str]:
    """The handler modules in restore order, by the module each HANDLER is defined in."""
    import sys

    found = []
    for stage in REGISTRY.stages:
        module = next(
            name
            for name, mod in sys.modules.items()
            if name.startswith(HANDLERS) and getattr(mod, "HANDLER", None) is stage.handler
        )
        found.append(module)
    return found
