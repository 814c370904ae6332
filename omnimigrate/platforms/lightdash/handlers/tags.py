"""A project's tags (what Lightdash's spotlight catalog groups its metrics by), by name: each
with its color, and where it comes from. A real Lightdash 1.219 keeps two tags of one name
in a project (its `POST …/tags` took a second "probe" beside the first), so namesakes are
told apart by what they hold, not by when they were made (every tag of that server answered
the same `createdAt`): the first in (yamlReference, color) order keeps the bare name, the
others `NAME#2`, `NAME#3` (`keyed`), on both sides alike. A tag made in the app
is created (`POST …/tags`, looked up by name when an answer is lost) or, when this restore
may change it, its color is set (`PATCH …/tags/{tagUuid}`). A tag of the dbt project's YAML
(a spotlight category of its `lightdash.config.yml`, `yamlReference`) can only be written
through `PUT …/tags/yaml`, which replaces every YAML tag of the project: the target's are
read when it is written and sent back with it, so none is lost, one write at a time per
project. The target's next deploy of its dbt project replaces them with its own YAML's.

Lightdash cannot turn a tag made in the app into one of the YAML or back: a tag whose origin
differs on the target is blocked, naming both, rather than written. Both generations (0.1471
and 1.219) serve the same routes and shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import TagRef
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import digest, project_of, projects
from omnimigrate.platforms.lightdash.planning import by_key

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.applying import ApplyContext
    from omnimigrate.platforms.lightdash.backup import Context
    from omnimigrate.platforms.lightdash.client import LightdashClient
    from omnimigrate.platforms.lightdash.natural_keys import InventoryBase, StateBase, ViewBase
    from omnimigrate.platforms.lightdash.planning import PlanContext
    from omnimigrate.platforms.lightdash.reading import SnapshotReader, TargetReader

ENTRY = "ld_tag"


class Tag(BaseModel):
    name: str
    color: str
    yaml: str | None = None  # its yamlReference (None: made in the app)

    def compared(self) -> dict[str, Any]:
        return {"color": self.color, "yamlReference": self.yaml}


class Tags(BaseModel):
    """Its part of a project, on both sides."""

    tags: dict[str, Tag] = Field(default_factory=dict)  # by `keyed` name


class Ids(BaseModel):
    tags: dict[str, str] = Field(default_factory=dict)  # "<project>:<keyed name>" -> uuid


class Target(BaseModel):
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "tags": "ld.tag",
        "tag_yaml": "ld.tag",
    }

    tags: dict[str, str] = Field(default_factory=dict)  # "<project>:<name>" -> digest
    tag_yaml: dict[str, str] = Field(default_factory=dict)  # the YAML ones' yamlReference


def tag_of(ref: TagRef) -> Tag:
    return Tag(name=ref.name, color=ref.color, yaml=ref.yaml_reference)


def keyed(refs: list[TagRef]) -> dict[str, TagRef]:
    """A project's tags by natural key: the name, and for each namesake after the first in
    (yamlReference, color) order, `NAME#n`. Namesakes alike in both are interchangeable."""
    out: dict[str, TagRef] = {}
    by_name: dict[str, list[TagRef]] = {}
    for ref in refs:
        by_name.setdefault(ref.name, []).append(ref)
    for name, same in sorted(by_name.items()):
        same.sort(key=lambda r: (r.yaml_reference or "", r.color, r.uuid))
        for n, ref in enumerate(same, 1):
            out[name if n == 1 else f"{name}#{n}"] = ref
    return out


# ---------------------------------------------------------------------- backup


async def list_tags(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    entries = [
        await ctx.entry(ENTRY, f"{args['name']}:{key}", tag_of(t).model_dump(),
                        source_id=t.uuid, refs={"project": args["name"]})
        for key, t in keyed(await client.tags(args["project"])).items()
    ]  # fmt: skip
    return JobResult(entries=entries)


def load(r: SnapshotReader, view: ViewBase) -> None:
    for o in r.entries(ENTRY):
        project = project_of(o)
        key = o.key.removeprefix(f"{project}:")
        part(view.projects[project], Tags).tags[key] = Tag.model_validate(r.blob(o))


# ---------------------------------------------------------------------- target


async def read(t: TargetReader) -> None:
    mine, ids = part(t.target, Tags), part(t.state.ids, Ids)
    for key, ref in keyed(await t.client.tags(t.uuid)).items():
        mine.tags[key] = tag_of(ref)
        ids.tags[t.key(key)] = ref.uuid


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    for name, p in projects(state, Tags).items():
        for key, tag in p.tags.items():
            mine.tags[f"{name}:{key}"] = digest(tag.compared())
            if tag.yaml is not None:
                mine.tag_yaml[f"{name}:{key}"] = tag.yaml


# ---------------------------------------------------------------------- plan and apply


def origin(yaml: str | None) -> str:
    return f"of the dbt project's YAML ({yaml})" if yaml is not None else "made in the app"


def plan(ctx: PlanContext[Any, Target]) -> None:
    for project in ctx.projects:
        for natural, tag in sorted(ctx.source(project, Tags).tags.items()):
            key = f"{project}:{natural}"
            action = Action(id=action_id("ld.tag", key), kind="ld.tag", object=key, op="create",
                            params={"project": project, "key": natural, "name": tag.name,
                                    "color": tag.color, "yaml": tag.yaml})  # fmt: skip
            have = ctx.inv.tags.get(key)
            decided = ctx.compare(action, have, digest(tag.compared()))
            there = ctx.inv.tag_yaml.get(key)
            if decided.writes and have is not None and (there is None) != (tag.yaml is None):
                ctx.mark(decided, "blocked",
                         f"on the target it is {origin(there)}, in the snapshot {origin(tag.yaml)}: "
                         "Lightdash cannot turn one into the other; delete the target's in "
                         "Lightdash (or rename one), then plan again")  # fmt: skip


async def write(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    p = a.params
    project, key = ctx.project(p["project"]), f"{p['project']}:{p['key']}"
    if p["yaml"] is not None:
        return await write_yaml(ctx, client, a)
    existing = ctx.ids.tags.get(key)
    if a.op == "update" and existing:
        await client.update_tag(project, existing, p["color"])
    else:
        existing = await client.create_tag(project, p["name"], p["color"])
        ctx.ids.tags[key] = existing
    await ctx.done(a, existing)


async def write_yaml(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    """The project's YAML tags as the target has them now, this one put in: the route
    deletes every YAML tag the list leaves out, so one write at a time reads and puts back
    the project's."""
    p = a.params
    project = ctx.project(p["project"])
    async with ctx.lock(f"yaml tags:{project}"):
        kept = [
            t for t in await client.tags(project)
            if t.yaml_reference is not None and p["yaml"] != t.yaml_reference
        ]  # fmt: skip
        mine = TagRef(uuid="", name=p["name"], color=p["color"], yaml_reference=p["yaml"])
        await client.replace_yaml_tags(project, [*kept, mine])
    await ctx.done(a)


def requests(a: Action) -> int:
    """A YAML tag reads the project's before it puts them back."""
    return 2 if a.params.get("yaml") is not None else 1


# ---------------------------------------------------------------------- verify


def rows(name: str, project: Tags) -> dict[str, Any]:
    return {f"{name}:{k}": t.compared() for k, t in project.tags.items()}


HANDLER = Handler(
    name="tags",
    project=Tags,
    uuids=Ids,
    target=Target,
    ids=("ld.tag",),  # its action ids' kinds
    jobs={"ld_tags": list_tags},
    per_project=("ld_tags",),
    load=load,
    read=read,
    inventory=inventory,
    plan=plan,
    actions={"ld.tag": ActionKind(write, requests=requests)},
    selectors={"tag": by_key("ld.tag")},
    explain=(
        "those of the dbt project's YAML go through PUT …/tags/yaml with the target's own: "
        "its next deploy replaces them with its YAML's",
    ),
    rows=rows,
)
