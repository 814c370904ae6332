"""A project's tags (what Lightdash's spotlight catalog groups its metrics by), each with its
name, color, and where it comes from.

- A tag of the dbt project's YAML (a spotlight category of its `lightdash.config.yml`) is
  keyed by its `yamlReference` (`yaml:REF`), which its project holds once. It can only be
  written through `PUT …/tags/yaml`, which replaces every YAML tag of the project: the
  target's are read when it is written and sent back with it, so none is lost, one write at
  a time per project. The target's next deploy of its dbt project replaces them with its
  own YAML's.
- A tag made in the app is keyed by its name. A real Lightdash 1.219 keeps two of one name
  in a project (its `POST …/tags` took a second "probe" beside the first, and every tag
  answered the same `createdAt`), so namesakes are told apart by what they hold: in the
  snapshot, the first in color order keeps the bare name and the others are `NAME#2`,
  `NAME#3`…; on the target, each name's tags take the snapshot's keys of that name, those
  alike in color first (`paired`). It is created (`POST …/tags`; a lost answer is found
  again as a tag of that name and color the target did not have) or, when this restore may
  change it, its color is set (`PATCH …/tags/{tagUuid}`).

Both generations (0.1471 and 1.219) serve the same routes and shape."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.lightdash.client import TagRef
from omnimigrate.platforms.lightdash.handler import ActionKind, Args, Handler
from omnimigrate.platforms.lightdash.natural_keys import digest, project_of, projects

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
    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"tags": "ld.tag"}

    tags: dict[str, str] = Field(default_factory=dict)  # "<project>:<key>" -> digest


def tag_of(ref: TagRef) -> Tag:
    return Tag(name=ref.name, color=ref.color, yaml=ref.yaml_reference)


YAML = "yaml:"  # the key of a tag of the dbt project's YAML: `yaml:REF`


def keyed(refs: list[TagRef]) -> dict[str, TagRef]:
    """The snapshot's tags by natural key: `yaml:REF`, else the name, and for each app-made
    namesake after the first in color order `NAME#n` (the first n no tag is named)."""
    out = {YAML + r.yaml_reference: r for r in refs if r.yaml_reference is not None}
    app = [r for r in refs if r.yaml_reference is None]
    names = {r.name for r in app}
    for name, same in _by_name(app):
        for key, ref in zip(_keys(name, len(same), names), same, strict=True):
            out[key] = ref
    return out


def paired(refs: list[TagRef], want: dict[str, Tag]) -> dict[str, TagRef]:
    """The target's tags keyed as the snapshot's `want` are: each name's app-made tags take
    that name's keys in the snapshot, those of the same color first, then the rest in color
    order; one left over takes the next key no tag has."""
    out = {YAML + r.yaml_reference: r for r in refs if r.yaml_reference is not None}
    app = [r for r in refs if r.yaml_reference is None]
    taken = {r.name for r in app} | set(want)
    for name, same in _by_name(app):
        keys = sorted((k for k, t in want.items() if t.yaml is None and t.name == name),
                      key=lambda k: (want[k].color, k))  # fmt: skip
        for key in list(keys):  # alike first
            ref = next((r for r in same if r.color == want[key].color), None)
            if ref is not None:
                out[key] = ref
                same.remove(ref)
                keys.remove(key)
        more = [k for k in _keys(name, len(same) + len(want), taken) if k not in want]
        for key, ref in zip([*keys, *more], same, strict=False):
            out[key] = ref
    return out


def _by_name(refs: list[TagRef]) -> list[tuple[str, list[TagRef]]]:
    groups: dict[str, list[TagRef]] = {}
    for r in sorted(refs, key=lambda r: (r.name, r.color, r.uuid)):
        groups.setdefault(r.name, []).append(r)
    return sorted(groups.items())


def _keys(name: str, n: int, names: set[str]) -> list[str]:
    """`name`, then `name#2`, `name#3`… skipping any a tag is named (`Finance#2` itself)."""
    keys = [name]
    k = 1
    while len(keys) < n:
        k += 1
        if f"{name}#{k}" not in names:
            keys.append(f"{name}#{k}")
    return keys[:n]


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
    snapshot = t.view.projects.get(t.project)
    want = part(snapshot, Tags).tags if snapshot is not None else {}
    for key, ref in paired(await t.client.tags(t.uuid), want).items():
        mine.tags[key] = tag_of(ref)
        ids.tags[t.key(key)] = ref.uuid


def inventory(state: StateBase, inv: InventoryBase) -> None:
    mine = part(inv, Target)
    for name, p in projects(state, Tags).items():
        for key, tag in p.tags.items():
            mine.tags[f"{name}:{key}"] = digest(tag.compared())


# ---------------------------------------------------------------------- plan and apply


def plan(ctx: PlanContext[Any, Target]) -> None:
    for project in ctx.projects:
        for natural, tag in sorted(ctx.source(project, Tags).tags.items()):
            key = f"{project}:{natural}"
            action = Action(id=action_id("ld.tag", key), kind="ld.tag", object=key, op="create",
                            params={"project": project, "key": natural, "name": tag.name,
                                    "color": tag.color, "yaml": tag.yaml})  # fmt: skip
            ctx.compare(action, ctx.inv.tags.get(key), digest(tag.compared()))


def named(action: Action, glob: str) -> bool:
    """`tag:NAME` (a glob): the tags of that name, namesakes and YAML tags too."""
    return action.kind == "ld.tag" and fnmatchcase(action.params["name"], glob)


async def write(ctx: ApplyContext[Ids], client: LightdashClient, a: Action) -> None:
    p = a.params
    project, key = ctx.project(p["project"]), f"{p['project']}:{p['key']}"
    if p["yaml"] is not None:
        return await write_yaml(ctx, client, a)
    existing = ctx.ids.tags.get(key)
    if a.op == "update" and existing:
        await client.update_tag(project, existing, p["color"])
    else:
        known = set(ctx.ids.tags.values())  # a lost answer's tag is none of these
        existing = await client.create_tag(project, p["name"], p["color"], known)
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
    selectors={"tag": named},
    explain=(
        "those of the dbt project's YAML go through PUT …/tags/yaml with the target's own: "
        "its next deploy replaces them with its YAML's",
    ),
    rows=rows,
)
