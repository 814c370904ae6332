"""The handler protocol's generic part, written once for every platform: what one object type
declares beside its phases (backup jobs, actions, selectors, side effects), the restore
order (`Stage`, `Registry`) and the dispatch the engine does through them.

A platform's `handler.py` extends `Handler` with the phases its contexts type (load, read,
plan, verify), and its `registry.py` lists the handlers in restore order as a `Registry`,
which refuses two types claiming one job kind or action kind, and two types of one name.
Nothing here names a platform's types: each handler names its own kinds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from omnimigrate.engine.apply import RestoreError
from omnimigrate.engine.contexts import PlanContext
from omnimigrate.engine.jobs import LISTING, READ, Job, JobResult, UnknownJob
from omnimigrate.engine.parts import BaseT, compose
from omnimigrate.engine.plan import Action
from omnimigrate.engine.protocol import SideEffect, plan_reconciles
from omnimigrate.snapshot.blobs import BlobStore

ContextT = TypeVar("ContextT")  # the platform's apply (or backup) context
ClientT = TypeVar("ClientT")  # the platform's client
HandlerT = TypeVar("HandlerT", bound="Handler")

JobArgs = Mapping[str, str]


def one_request(_action: Action) -> int:
    return 1


@dataclass(frozen=True)
class ActionKind(Generic[ContextT, ClientT]):
    """How one kind of action is written: `apply` does it (and may answer a warning);
    `adopt` finishes one whose object an interrupted run made; `creates`: it makes a new
    object, so the applier writes its intent first (`engine/protocol.py`); `requests` is
    about what it costs (the plan's estimate); `warning`, what the restore report says of a
    written action beyond "done"."""

    apply: Callable[[ContextT, ClientT, Action], Awaitable[str | None]]
    requests: Callable[[Action], int] = one_request
    adopt: Callable[[ContextT, ClientT, Action], Awaitable[str | None]] | None = None
    creates: bool = False
    warning: Callable[[ContextT, Action], str | None] | None = None


@dataclass(frozen=True)
class JobTemplate:
    """A job queued for each object a listing finds: `kind`, with that object's id and key."""

    kind: str
    priority: int = READ

    def job(self, object_id: str, key: str) -> Job:
        return Job(kind=self.kind, args={"id": object_id, "key": key}, priority=self.priority)


# `--include`/`--exclude` patterns a handler answers (`label:NAME`, `chart:SLUG`): the
# prefix, and whether one object of the type matches the rest of the pattern
Selector = Callable[[Any, str], bool]


@dataclass(frozen=True)
class Handler:
    """What every platform's handler declares, beside its phases:

    - `name`: the type, as `plan --explain-order` and the verify report name it;
    - `jobs`: each backup job kind it owns and the coroutine that does it; `roots`, the
      listing jobs every backup starts with;
    - `keeps`: the snapshot entry types an incremental backup may keep from the last
      snapshot (the type's downloads, when unchanged); `content`: the entry types a folder
      filter selects (the type is content);
    - `ids`: the object kinds its action ids start with (`folder` in `folder:sales/q1`);
    - `actions`: each action kind it plans and how it is written (`ActionKind`);
    - `selectors`: the `KIND:VALUE` patterns of --include/--exclude it answers;
    - `side_effects`: what the server adds on its own when one of its actions creates an
      object, undone in the same run (`engine/protocol.py`);
    - `explain`: lines `plan --explain-order` prints under it (its own steps);
    - `view` and `target`: its parts of the snapshot view and of the target inventory
      (`engine/parts.py`), which the registry composes;
    - `references`: the action ids of what its selected objects name (their folder, owner,
      labels, grantees), asked of every type in reverse restore order before any plans:
      with a filter, a type planned earlier restores only what the later ones name;
    - `plan`: adds its actions to the plan through the platform's plan context.
    """

    name: str
    jobs: Mapping[str, Callable[[Any, Any, JobArgs], Awaitable[JobResult]]] = field(
        default_factory=dict
    )
    roots: tuple[str, ...] = ()
    keeps: tuple[str, ...] = ()
    content: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    actions: Mapping[str, ActionKind[Any, Any]] = field(default_factory=dict)
    selectors: Mapping[str, Selector] = field(default_factory=dict)
    side_effects: tuple[SideEffect, ...] = ()
    explain: tuple[str, ...] = ()
    view: type[BaseModel] | None = None
    target: type[BaseModel] | None = None
    references: Callable[[Any], Iterable[str]] | None = None
    plan: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class Stage(Generic[HandlerT]):
    """One type in the restore order, with the reason for its place."""

    handler: HandlerT
    reason: str

    @property
    def name(self) -> str:
        return self.handler.name


def _merged(what: str, parts: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One mapping of every handler's `what`, refusing a key two handlers claim: a type's
    kinds are its own, so dispatch by kind is never ambiguous."""
    merged: dict[str, Any] = {}
    for name, part in parts:
        taken = merged.keys() & part.keys()
        if taken:
            raise ValueError(f"{name} declares {what} another type has: {sorted(taken)}")
        merged |= part
    return merged


class Registry(Generic[HandlerT]):
    """A platform's handlers in restore order: every phase iterates `handlers`, and dispatch
    by job kind or action kind goes through `jobs` and `actions`."""

    def __init__(self, stages: tuple[Stage[HandlerT], ...]) -> None:
        names = [s.name for s in stages]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two types share a name: {twice}")
        self.stages = stages
        self.handlers: tuple[HandlerT, ...] = tuple(s.handler for s in stages)
        pairs = [(h.name, h) for h in self.handlers]
        self.jobs: dict[str, Callable[[Any, Any, JobArgs], Awaitable[JobResult]]] = _merged(
            "job kinds", ((n, h.jobs) for n, h in pairs)
        )
        self.actions: dict[str, ActionKind[Any, Any]] = _merged(
            "action kinds", ((n, h.actions) for n, h in pairs)
        )
        self.selectors: dict[str, Selector] = _merged(
            "selectors", ((n, h.selectors) for n, h in pairs)
        )
        _merged("id kinds", ((n, dict.fromkeys(h.ids)) for n, h in pairs))
        self.roots: tuple[str, ...] = tuple(kind for h in self.handlers for kind in h.roots)
        self.keeps: frozenset[str] = frozenset(t for h in self.handlers for t in h.keeps)
        self.content: tuple[str, ...] = tuple(t for h in self.handlers for t in h.content)
        self.side_effects: tuple[SideEffect, ...] = tuple(
            e for h in self.handlers for e in h.side_effects
        )

    def compose(
        self, name: str, base: type[BaseT], part: Callable[[HandlerT], type[BaseModel] | None]
    ) -> type[BaseT]:
        """`base` with every handler's `part` (its `view`, its `target`), in restore order."""
        return compose(name, base, (part(h) for h in self.handlers))

    def plan(self, ctx: PlanContext[Any, Any, Any]) -> None:
        """Every type's `plan(ctx)` in restore order, after every type's references in
        reverse order (what the later types' selected objects name); then, after everything
        else, a reconcile for each server side effect an action's create may leave
        (`engine/protocol.py`). The plan's estimate is `cost`'s, once the platform has kept
        what its selection keeps."""
        for h in reversed(self.handlers):
            if h.references:
                ctx.referenced |= set(h.references(ctx))
        for h in self.handlers:
            if h.plan:
                h.plan(ctx)
        for effect in self.side_effects:
            plan_reconciles(ctx, effect)

    def explain_order(self) -> list[str]:
        """The restore order as `plan --explain-order` prints it."""
        lines = []
        for n, stage in enumerate(self.stages, 1):
            lines.append(f"{n}. {stage.name}: {stage.reason}")
            lines += [f"   - {line}" for line in stage.handler.explain]
        return lines

    def kind(self, action: Action) -> ActionKind[Any, Any]:
        """The action's kind, or the error that says the plan is not this omnimigrate's."""
        found = self.actions.get(action.kind)
        if found is None:
            raise RestoreError(
                f"{action.id}: {action.kind} is not an action this omnimigrate applies: "
                "make the plan again with `omnimigrate plan`"
            )
        return found

    def cost(self, actions: Iterable[Action]) -> None:
        """About what applying each action costs, for the plan's estimate."""
        for a in actions:
            kind = self.actions.get(a.kind)
            a.requests = kind.requests(a) if kind and a.writes else 0

    def root_jobs(self, *extra: str) -> list[Job]:
        return [Job(kind=kind, priority=LISTING) for kind in (*self.roots, *extra)]


class Runner(Generic[ContextT]):
    """The engine's `ActionRunner` for a registry: each action goes to its kind's handler,
    with the platform's apply context."""

    def __init__(self, registry: Registry[Any], context: ContextT) -> None:
        self.registry = registry
        self.context = context

    def creates(self, action: Action) -> bool:
        return self.registry.kind(action).creates

    async def apply(self, action: Action, client: Any) -> str | None:
        kind = self.registry.kind(action)
        warning = await kind.apply(self.context, client, action)
        return warning or (kind.warning(self.context, action) if kind.warning else None)

    async def adopt(self, action: Action, client: Any) -> str | None:
        kind = self.registry.kind(action)
        if kind.adopt is None:
            raise RestoreError(f"{action.id}: a {action.kind} action cannot be adopted")
        warning = await kind.adopt(self.context, client, action)
        return warning or (kind.warning(self.context, action) if kind.warning else None)


class BackupState(Protocol):
    """What the walker reads of a platform's backup context."""

    blobs: BlobStore
    exports: int  # content exports requested this run
    reused: int  # exports an incremental run kept from the last snapshot


BackupT = TypeVar("BackupT", bound=BackupState)


class Walker(Generic[BackupT]):
    """The engine's walker over a registry: the roots every backup starts with, and each job
    done by the handler that owns its kind, with the platform's backup context."""

    def __init__(
        self,
        context: BackupT,
        registry: Registry[Any],
        *,
        jobs: Mapping[str, Callable[[Any, Any, JobArgs], Awaitable[JobResult]]] | None = None,
        roots: tuple[str, ...] = (),
    ) -> None:
        """`jobs` and `roots`: the platform's own, beside its handlers' (Lightdash's
        project listing)."""
        self.context = context
        self.content_types = registry.content
        self._jobs: dict[str, Callable[[Any, Any, JobArgs], Awaitable[JobResult]]] = _merged(
            "job kinds", [("the platform", jobs or {}), ("a type", registry.jobs)]
        )
        self._roots = registry.root_jobs(*roots)

    @property
    def blobs(self) -> BlobStore:
        return self.context.blobs

    @property
    def exports(self) -> int:
        return self.context.exports

    @property
    def reused(self) -> int:
        return self.context.reused

    @property
    def job_kinds(self) -> frozenset[str]:
        return frozenset(self._jobs)

    def roots(self) -> list[Job]:
        return list(self._roots)

    async def run(self, job: Job, client: Any) -> JobResult:
        do = self._jobs.get(job.kind)
        if do is None:
            raise UnknownJob(job)
        return await do(self.context, client, job.args)
