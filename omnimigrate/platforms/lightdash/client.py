"""The Lightdash client: one instance, one personal access token (`Authorization: ApiKey`).

Every answer is `{"status": "ok", "results": ...}`; errors come in Lightdash's envelope and
become the same error types as Omni's (`omnimigrate.errors`) with Lightdash's hints.
The limiter and retry rules are Omni's; Lightdash documents no rate limit, so the limit is
the configured one.

Two API generations: the client reads the server's version from `GET /api/v1/health` (once)
and speaks 1.219 where it is served (major version 1 or later: the `code/*` routes with the
answer's next offset, spaces with `inheritParentPermissions` and their direct shares from
`access?directOnly=true`, scheduler bodies with `appUuid`/`appName`), else 0.1471.

Reads are defensive: the models below declare only what the specs (0.1471.0, 1.219.0)
declare and restore relies on; a list that comes either paginated (`{data, pagination}`) or
bare is read in both shapes, and a space's `parentSpaceUuid` is read when served.
A create that may have reached Lightdash before its answer was lost is looked up by its
natural key before it is sent again, so a retry never makes a duplicate (lightdash#11675).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, model_validator

from omnimigrate.errors import ApiError, ApiStatusError, ConfigError, NotFound, hint_for
from omnimigrate.http.client import ApiClient
from omnimigrate.http.transport import Reply

PAGE_SIZE = 100
OLD, NEW = "0.1471", "1.219"  # the two API generations spoken
ISPRIVATE, INHERIT = "isPrivate", "inheritParentPermissions"  # their space permission models
PROJECT = "/api/v1/projects/{projectUuid}"
SPACE = PROJECT + "/spaces/{spaceUuid}"
CHART_SCHEDULERS = "/api/v1/saved/{chartUuid}/schedulers"  # not in the public spec
DASHBOARD_SCHEDULERS = "/api/v1/dashboards/{dashboardUuid}/schedulers"  # nor this
SQL_CHART = PROJECT + "/sqlRunner/saved/slug/{slug}"  # 1.219's: a SQL chart by its slug
SQL_SCHEDULERS = PROJECT + "/sqlRunner/saved/{savedSqlUuid}/schedulers"  # 1.219's
VALIDATE = PROJECT + "/validate"
JOB_STATUS = "/api/v1/schedulers/job/{jobId}/status"
VALIDATION_POLLS = 16  # status reads before a validation counts as unfinished (about 1 min)


class ValidationUnfinished(ApiError):
    """A project validation job that failed or did not complete in time."""


class Read(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ProjectRef(Read):
    uuid: str = Field(alias="projectUuid")
    name: str


PROJECTS = TypeAdapter(list[ProjectRef])


class Me(Read):
    """The token's user: `email` and `role` are optional in the spec."""

    uuid: str = Field(alias="userUuid")
    email: str | None = None
    role: str | None = None


class OrgUser(Read):
    uuid: str = Field(alias="userUuid")
    email: str


class GroupRef(Read):
    uuid: str
    name: str


class ProjectMember(Read):
    user: str = Field(alias="userUuid")
    email: str
    role: str


class GroupAccess(Read):
    group: str = Field(alias="groupUuid")
    role: str


class SpaceShare(Read):
    user: str = Field(alias="userUuid")
    email: str
    role: str
    direct: bool = Field(alias="hasDirectAccess")


class SpaceGroup(Read):
    group: str = Field(alias="groupUuid")
    name: str = Field(alias="groupName")
    role: str = Field(alias="spaceRole")


class SpaceRef(Read):
    """A space in either generation: 0.1471 says `isPrivate`, 1.219 `inheritParentPermissions`
    (a space that does not inherit has only its direct shares). `restricted` is the one
    meaning both share: isPrivate true <-> inheritParentPermissions false."""

    uuid: str
    name: str
    slug: str
    is_private: bool | None = Field(default=None, alias="isPrivate")
    inherit: bool | None = Field(default=None, alias="inheritParentPermissions")
    parent: str | None = Field(default=None, alias="parentSpaceUuid")
    member_role: str | None = Field(default=None, alias="projectMemberAccessRole")
    ltree: str | None = Field(default=None, alias="path")  # 1.219: `parent_slug.child_slug`
    parent_served: bool = False  # the answer has `parentSpaceUuid` (null at the root)

    @model_validator(mode="before")
    @classmethod
    def _parent_served(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "parent_served" not in raw:
            return {**raw, "parent_served": "parentSpaceUuid" in raw}
        return raw

    @model_validator(mode="after")
    def _one_model(self) -> SpaceRef:
        if self.is_private is None and self.inherit is None:
            raise ValueError(f"space {self.uuid} has neither `{ISPRIVATE}` nor `{INHERIT}`")
        return self

    @property
    def model(self) -> str:
        return INHERIT if self.inherit is not None else ISPRIVATE

    @property
    def code_slug(self) -> str:
        """How content as code names the space: 1.219 by its path (`parent-a/child-b`, from
        the ltree path as Lightdash's getContentAsCodePathFromLtreePath turns it), 0.1471 by
        its slug."""
        return self.ltree.replace("_", "-").replace(".", "/") if self.ltree else self.slug

    @property
    def restricted(self) -> bool:
        return not self.inherit if self.inherit is not None else bool(self.is_private)


class SpaceDetail(SpaceRef):
    access: list[SpaceShare] = Field(default_factory=list)
    groups: list[SpaceGroup] = Field(default_factory=list, alias="groupsAccess")


class ContentRef(Read):
    """A chart or dashboard in a project's list: what incremental backup compares."""

    uuid: str
    name: str
    updated_at: str = Field(alias="updatedAt")
    slug: str | None = None  # charts' lists have it; dashboards' do not


def _values(raw: dict[str, Any], many: str, one: str) -> list[str]:
    """1.219's list (`values`, `attributeDefaults`), else 0.1471's single value."""
    if raw.get(many) is not None:
        return [str(v) for v in raw[many]]
    return [str(raw[one])] if raw.get(one) is not None else []


class AttributeUser(Read):
    user: str = Field(alias="userUuid")
    email: str
    values: list[str]


class AttributeGroup(Read):
    group: str = Field(alias="groupUuid")
    values: list[str]


class AttributeRef(Read):
    """A user attribute in either generation, its values read as lists."""

    uuid: str
    name: str
    description: str | None = None
    defaults: list[str] = Field(default_factory=list)
    users: list[AttributeUser] = Field(default_factory=list)
    groups: list[AttributeGroup] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "defaults" in raw:
            return raw  # already ours (a snapshot's blob)
        for name in ("users", "groups", "uuid", "name"):
            if name not in raw:
                raise ValueError(f"a user attribute without `{name}`, which the spec requires")
        return {
            **raw,
            "defaults": _values(raw, "attributeDefaults", "attributeDefault"),
            "users": [{**u, "values": _values(u, "values", "value")} for u in raw["users"]],
            "groups": [{**g, "values": _values(g, "values", "value")} for g in raw["groups"]],
        }


class TagRef(Read):
    """A project tag (the same in 0.1471 and 1.219). `yaml_reference`: the tag is one of the
    dbt project's YAML (a spotlight category of its `lightdash.config.yml`, which
    `PUT …/tags/yaml` replaces), else it was made in the app (null)."""

    uuid: str = Field(alias="tagUuid")
    name: str
    color: str
    yaml_reference: str | None = Field(alias="yamlReference")


class Upserted(BaseModel):
    action: str | None  # create, update, no changes; None when the answer lists nothing
    uuid: str | None  # the chart's or dashboard's uuid on this instance, when answered


def lightdash_hint(status: int, route: str) -> str:
    """What the operator should do about an error status (Lightdash's settings, not Omni's)."""
    if status == 401:
        return "the personal access token is missing, expired or revoked: create one in Lightdash > Settings > Personal access tokens"
    if status == 403:
        return "the token's user lacks permission here: use a token of an organization admin"
    if status == 404 and route in (CHART_SCHEDULERS, DASHBOARD_SCHEDULERS):
        return (
            "this Lightdash does not serve the web app's scheduler routes (they are not in "
            "its public API): recreate the schedulers in the UI, or upgrade Lightdash"
        )
    if status == 404:
        return "the object does not exist on this instance (check the project uuid and the URL)"
    if status >= 500:
        return "Lightdash had a server error; retry later"
    return hint_for(status, route) if status == 429 else ""


class ProjectNotFound(ConfigError):
    """The project `--project` (or an instance's `project`) names is not on the instance."""


def select_project(projects: list[ProjectRef], selector: str, url: str) -> ProjectRef:
    """The project a `--project` (a uuid or a name) selects."""
    found = next((p for p in projects if selector in (p.uuid, p.name)), None)
    if found is None:
        listed = ", ".join(f"{p.name} ({p.uuid})" for p in projects) or "none"
        raise ProjectNotFound(
            f"project {selector!r} is not on {url} (its projects: {listed}): set --project or "
            "the instance's `project` to a uuid or a name from that list"
        )
    return found


def required(results: dict[str, Any], name: str, route: str, method: str = "GET") -> Any:
    """A field the spec requires in an answer: its absence is named, never defaulted."""
    if not isinstance(results, dict) or name not in results:
        raise ApiStatusError(200, f"the answer has no `{name}`, which openapi.json requires",
                             method=method, route=route,
                             hint="the URL may not be a Lightdash of 0.1471.0 or later")  # fmt: skip
    return results[name]


class LightdashClient(ApiClient):
    platform = "lightdash"
    scheme = "ApiKey"
    _hints = staticmethod(lightdash_hint)
    default_rate = 600  # Lightdash documents no limit; a pool passes the configured one

    def __init__(
        self, base_url: str, token: str | SecretStr, *, project: str | None = None, **options: Any
    ) -> None:
        super().__init__(base_url, token, **options)
        self.project = project  # the selected project's uuid or name; None: every project
        self._version: str | None = None
        self._version_lock = asyncio.Lock()

    async def version(self) -> str:
        """The server's release, from `GET /api/v1/health` (read once); a server without the
        route (it is in neither spec) is taken for 0.1471."""
        async with self._version_lock:
            if self._version is None:
                try:
                    results = await self._results("GET", "/api/v1/health")
                except NotFound:
                    results = {}
                self._version = str((results or {}).get("version") or OLD + ".0")
            return self._version

    async def generation(self) -> str:
        """NEW (1.219) from release 1 on, else OLD (0.1471)."""
        major = (await self.version()).split(".")[0]
        return NEW if major.isdigit() and int(major) >= 1 else OLD

    async def modern(self) -> bool:
        return await self.generation() == NEW

    async def _results(self, method: str, route: str, **call: Any) -> Any:
        """The `results` of one call (`call`: `ApiClient._call`'s), with retries."""
        reply = await self._call(method, route, **call)
        if not isinstance(reply.body, dict) or (reply.body and "status" not in reply.body):
            raise ApiStatusError(reply.status, "the answer is not Lightdash's `{status, results}`",
                                 method=method, route=route,
                                 hint="check that the URL is the Lightdash instance's origin")  # fmt: skip
        return reply.body.get("results")  # optional: ApiSuccessEmpty has none

    async def _paged(
        self, route: str, path: dict[str, str] | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        """A Knex-paginated list (`{data, pagination}`), or a bare list from a server that
        does not paginate it. `pagination` is optional: without it, a full page asks for
        the next one."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            results = await self._results(
                "GET", route, path=path, params={**params, "page": page, "pageSize": PAGE_SIZE}
            )
            if isinstance(results, list):
                return results
            data = required(results, "data", route)
            out += data
            pagination = results.get("pagination")
            more = page < pagination["totalPageCount"] if pagination else len(data) == PAGE_SIZE
            if not data or not more:
                return out
            page += 1

    @staticmethod
    def _found(results: Any) -> Reply:
        return Reply(200, {"status": "ok", "results": results}, {})

    # ------------------------------------------------------------------ org and people

    async def me(self) -> Me:
        return Me.model_validate(await self._results("GET", "/api/v1/user"))

    async def projects(self) -> list[ProjectRef]:
        """A `results` that is not a list of projects is a ValidationError, as any bad answer."""
        return PROJECTS.validate_python(await self._results("GET", "/api/v1/org/projects"))

    async def users(self) -> list[OrgUser]:
        return [OrgUser.model_validate(u) for u in await self._paged("/api/v1/org/users")]

    async def groups(self) -> list[GroupRef]:
        return [GroupRef.model_validate(g) for g in await self._paged("/api/v1/org/groups")]

    async def group_members(self, group: str) -> list[OrgUser]:
        results = await self._results(
            "GET", "/api/v1/groups/{groupUuid}/members", path={"groupUuid": group}
        )
        return [OrgUser.model_validate(u) for u in results]

    async def create_group(self, name: str, members: list[str]) -> str:
        async def recover() -> Reply | None:
            found = next((g for g in await self.groups() if g.name == name), None)
            return self._found({"uuid": found.uuid}) if found else None

        body = {"name": name, "members": [{"userUuid": u} for u in members]}
        results = await self._results("POST", "/api/v1/org/groups", json=body, recover=recover)
        return str(results["uuid"])

    async def add_group_member(self, group: str, user: str) -> None:
        await self._results("PUT", "/api/v1/groups/{groupUuid}/members/{userUuid}",
                         path={"groupUuid": group, "userUuid": user})  # fmt: skip

    # ------------------------------------------------------------------ project settings

    async def scheduler_timezone(self, project: str) -> str:
        results = await self._results("GET", PROJECT, path={"projectUuid": project})
        return str(required(results, "schedulerTimezone", PROJECT))

    async def set_scheduler_timezone(self, project: str, zone: str) -> None:
        await self._results("PATCH", PROJECT + "/schedulerSettings", path={"projectUuid": project},
                            json={"schedulerTimezone": zone})  # fmt: skip

    # ------------------------------------------------------------------ user attributes

    async def attributes(self) -> list[AttributeRef]:
        return [
            AttributeRef.model_validate(a)
            for a in await self._results("GET", "/api/v1/org/attributes")
        ]

    async def _attribute_body(
        self, attr: Any, users: dict[str, list[str]], groups: dict[str, list[str]]
    ) -> dict[str, Any]:
        """1.219 takes lists; 0.1471 one value (the first: the README names the loss)."""
        if await self.modern():
            return {"name": attr.name, "description": attr.description,
                    "attributeDefaults": attr.defaults or None,
                    "users": [{"userUuid": u, "values": v} for u, v in users.items()],
                    "groups": [{"groupUuid": g, "values": v} for g, v in groups.items()]}  # fmt: skip
        return {"name": attr.name, "description": attr.description,
                "attributeDefault": attr.defaults[0] if attr.defaults else None,
                "users": [{"userUuid": u, "value": v[0]} for u, v in users.items() if v],
                "groups": [{"groupUuid": g, "value": v[0]} for g, v in groups.items() if v]}  # fmt: skip

    async def create_attribute(
        self, attr: Any, users: dict[str, list[str]], groups: dict[str, list[str]]
    ) -> str:
        """`attr`: the model's Attribute; `users`/`groups`: values by uuid. 1.219 answers 201."""

        async def recover() -> Reply | None:
            found = next((a for a in await self.attributes() if a.name == attr.name), None)
            return self._found({"uuid": found.uuid}) if found else None

        body = await self._attribute_body(attr, users, groups)
        results = await self._results("POST", "/api/v1/org/attributes", json=body, recover=recover)
        return str(required(results, "uuid", "/api/v1/org/attributes", "POST"))

    async def update_attribute(
        self, uuid: str, attr: Any, users: dict[str, list[str]], groups: dict[str, list[str]]
    ) -> None:
        await self._results("PUT", "/api/v1/org/attributes/{userAttributeUuid}",
                            path={"userAttributeUuid": uuid},
                            json=await self._attribute_body(attr, users, groups))  # fmt: skip

    # ------------------------------------------------------------------ project tags

    async def tags(self, project: str) -> list[TagRef]:
        results = await self._results("GET", PROJECT + "/tags", path={"projectUuid": project})
        return [TagRef.model_validate(t) for t in results]

    async def create_tag(self, project: str, name: str, color: str, known: set[str]) -> str:
        """A tag made in the app; a lost answer's lookup finds it as a tag of that name and
        color none of the `known` uuids names (a project may hold namesakes)."""

        async def recover() -> Reply | None:
            found = next(
                (t for t in await self.tags(project)
                 if t.name == name and t.color == color and t.uuid not in known),
                None,
            )  # fmt: skip
            return self._found({"tagUuid": found.uuid}) if found else None

        route = PROJECT + "/tags"
        results = await self._results("POST", route, path={"projectUuid": project},
                                      json={"name": name, "color": color}, recover=recover)  # fmt: skip
        return str(required(results, "tagUuid", route, "POST"))

    async def update_tag(self, project: str, tag: str, color: str) -> None:
        await self._results("PATCH", PROJECT + "/tags/{tagUuid}",
                            path={"projectUuid": project, "tagUuid": tag}, json={"color": color})  # fmt: skip

    async def replace_yaml_tags(self, project: str, tags: list[TagRef]) -> None:
        """Every YAML tag of the project at once: those `tags` leave out are deleted."""
        body = [{"name": t.name, "color": t.color, "yamlReference": t.yaml_reference} for t in tags]
        await self._results("PUT", PROJECT + "/tags/yaml", path={"projectUuid": project}, json=body)

    # ------------------------------------------------------------------ project access

    async def project_access(self, project: str) -> list[ProjectMember]:
        results = await self._results("GET", PROJECT + "/access", path={"projectUuid": project})
        return [ProjectMember.model_validate(m) for m in results]

    async def grant_project_access(self, project: str, email: str, role: str) -> None:
        async def recover() -> Reply | None:
            members = await self.project_access(project)
            done = any(m.email.lower() == email.lower() for m in members)
            return self._found(None) if done else None

        body = {"email": email, "role": role, "sendEmail": False}
        await self._results(
            "POST", PROJECT + "/access", path={"projectUuid": project}, json=body, recover=recover
        )

    async def update_project_access(self, project: str, user: str, role: str) -> None:
        await self._results("PATCH", PROJECT + "/access/{userUuid}",
                         path={"projectUuid": project, "userUuid": user}, json={"role": role})  # fmt: skip

    async def group_accesses(self, project: str) -> list[GroupAccess]:
        results = await self._results(
            "GET", PROJECT + "/groupAccesses", path={"projectUuid": project}
        )
        return [GroupAccess.model_validate(a) for a in results]

    async def grant_group_access(
        self, group: str, project: str, role: str, *, update: bool
    ) -> None:
        path = {"groupUuid": group, "projectUuid": project}

        async def recover() -> Reply | None:
            done = any(a.group == group for a in await self.group_accesses(project))
            return self._found(None) if done else None

        await self._results("PATCH" if update else "POST", "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
                         path=path, json={"role": role}, recover=recover)  # fmt: skip

    # ------------------------------------------------------------------ spaces

    async def spaces(self, project: str) -> list[SpaceRef]:
        results = await self._results("GET", PROJECT + "/spaces", path={"projectUuid": project})
        return [SpaceRef.model_validate(s) for s in results]

    async def nests(self, listed: list[SpaceRef]) -> bool:
        """Whether the server keeps spaces' parents, from a project's spaces as listed: 1.219
        does (nesting is official); a 0.1471 spec's server only when its spaces' answers
        carry `parentSpaceUuid` (a newer build than its spec), else it is flat and would
        make a child at the root."""
        return await self.modern() or any(s.parent_served for s in listed)

    async def space(self, project: str, space: str) -> SpaceDetail:
        results = await self._results(
            "GET", SPACE, path={"projectUuid": project, "spaceUuid": space}
        )
        return SpaceDetail.model_validate(results)

    async def space_users(self, project: str, space: str) -> list[SpaceShare]:
        """A space's direct user shares. 1.219's space answer lists only the caller and
        admins, so its paged `access?directOnly=true` is read; 0.1471's lists them all."""
        if not await self.modern():
            return [a for a in (await self.space(project, space)).access if a.direct]
        rows = await self._paged(
            SPACE + "/access", path={"projectUuid": project, "spaceUuid": space}, directOnly="true"
        )
        return [a for a in (SpaceShare.model_validate(r) for r in rows) if a.direct]

    async def _space_flag(self, restricted: bool) -> dict[str, bool]:
        """The body's permission field in this server's model (1.219 ignores `isPrivate`)."""
        return {INHERIT: not restricted} if await self.modern() else {ISPRIVATE: restricted}

    async def create_space(
        self, project: str, name: str, private: bool, parent: str | None
    ) -> SpaceRef:
        async def recover() -> Reply | None:
            found = next(
                (s for s in await self.spaces(project) if s.name == name and s.parent == parent),
                None,
            )
            return self._found(found.model_dump(by_alias=True)) if found else None

        body: dict[str, Any] = {"name": name, **await self._space_flag(private)}
        if parent:  # newer Lightdash nests spaces; 0.1471.0 ignores what it does not declare
            body["parentSpaceUuid"] = parent
        results = await self._results(
            "POST", PROJECT + "/spaces", path={"projectUuid": project}, json=body, recover=recover
        )
        return SpaceRef.model_validate(results)

    async def update_space(
        self, project: str, space: str, name: str, private: bool, member_role: str | None = None
    ) -> None:
        """`member_role`: 1.219's projectMemberAccessRole (null clears it); 0.1471 has none."""
        body: dict[str, Any] = {"name": name, **await self._space_flag(private)}
        if await self.modern():
            body["projectMemberAccessRole"] = member_role
        await self._results("PATCH", SPACE, path={"projectUuid": project, "spaceUuid": space},
                            json=body)  # fmt: skip

    async def share_space(self, project: str, space: str, user: str, role: str) -> None:
        """Idempotent by nature: sharing again sets the same role."""
        await self._results("POST", SPACE + "/share", path={"projectUuid": project, "spaceUuid": space},
                         json={"userUuid": user, "spaceRole": role}, recover=self._no_lookup)  # fmt: skip

    async def unshare_space(self, project: str, space: str, user: str) -> None:
        await self._results("DELETE", SPACE + "/share/{userUuid}",
                         path={"projectUuid": project, "spaceUuid": space, "userUuid": user})  # fmt: skip

    async def share_space_group(self, project: str, space: str, group: str, role: str) -> None:
        await self._results("POST", SPACE + "/group/share",
                         path={"projectUuid": project, "spaceUuid": space},
                         json={"groupUuid": group, "spaceRole": role}, recover=self._no_lookup)  # fmt: skip

    async def unshare_space_group(self, project: str, space: str, group: str) -> None:
        await self._results("DELETE", SPACE + "/group/share/{groupUuid}",
                         path={"projectUuid": project, "spaceUuid": space, "groupUuid": group})  # fmt: skip

    @staticmethod
    async def _no_lookup() -> Reply | None:
        """A POST that sets a value (a share): sending it again does no harm."""
        return None

    # ------------------------------------------------------------------ charts, dashboards

    async def chart_list(self, project: str) -> list[ContentRef]:
        results = await self._results("GET", PROJECT + "/charts", path={"projectUuid": project})
        return [ContentRef.model_validate(c) for c in results]

    async def dashboard_list(self, project: str) -> list[ContentRef]:
        results = await self._results("GET", PROJECT + "/dashboards", path={"projectUuid": project})
        return [ContentRef.model_validate(d) for d in results]

    async def code_route(self, items: str, slug: bool = False) -> str:
        """Content as code: 1.219's `code/{items}` (the old routes are marked for removal),
        else 0.1471's `{items}/code`; with `slug`, the upload's."""
        if await self.modern():
            return PROJECT + f"/code/{items}" + ("/{slug}" if slug else "")
        return PROJECT + f"/{items}" + ("/{slug}" if slug else "") + "/code"

    async def charts_code(self, project: str, ids: list[str] | None = None) -> list[dict[str, Any]]:
        return await self._code("charts", project, ids)

    async def dashboards_code(
        self, project: str, ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        return await self._code("dashboards", project, ids)

    async def _code(self, items: str, project: str, ids: list[str] | None) -> list[dict[str, Any]]:
        """The content-as-code download, paged until `total` is reached: 1.219 answers the
        next page's `offset`; 0.1471's answer echoes the one asked, so the count read is."""
        route = await self.code_route(items)
        modern = await self.modern()
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"offset": offset}
            if ids:
                params["ids"] = ids
            results = await self._results(
                "GET", route, path={"projectUuid": project}, params=params
            )
            page = required(results, items, route)
            out += page
            total = int(required(results, "total", route))
            offset = int(required(results, "offset", route)) if modern else len(out)
            if not page or offset >= total:
                return out

    async def upsert_chart(self, project: str, slug: str, body: dict[str, Any]) -> Upserted:
        """An upsert by slug: sending it again after a lost answer writes the same."""
        route = await self.code_route("charts", slug=True)
        results = await self._results("POST", route, path={"projectUuid": project, "slug": slug},
                                      json=body, recover=self._no_lookup)  # fmt: skip
        return _upserted(results, "charts", route)

    async def sql_charts_code(self, project: str) -> list[dict[str, Any]]:
        """1.219's SQL charts as code; 0.1471 has no SQL charts (none is an empty list)."""
        return await self._code("sqlCharts", project, None) if await self.modern() else []

    async def sql_chart_uuid(self, project: str, slug: str) -> str | None:
        """A SQL chart's uuid, which its code leaves out (the schedulers on it name it)."""
        try:
            results = await self._results(
                "GET", SQL_CHART, path={"projectUuid": project, "slug": slug}
            )
        except NotFound:
            return None
        return str(required(results, "savedSqlUuid", SQL_CHART))

    async def upsert_sql_chart(self, project: str, slug: str, body: dict[str, Any]) -> Upserted:
        """The change is read under `sqlCharts`, as the spec declares, or `charts`, where the
        real 1.219 answers it (CoderService.upsertSqlChart)."""
        route = await self.code_route("sqlCharts", slug=True)
        results = await self._results("POST", route, path={"projectUuid": project, "slug": slug},
                                      json=body, recover=self._no_lookup)  # fmt: skip
        items = "sqlCharts" if isinstance(results, dict) and results.get("sqlCharts") else "charts"
        return _upserted(results, items, route)

    async def upsert_dashboard(self, project: str, slug: str, body: dict[str, Any]) -> Upserted:
        route = await self.code_route("dashboards", slug=True)
        results = await self._results("POST", route, path={"projectUuid": project, "slug": slug},
                                      json=body, recover=self._no_lookup)  # fmt: skip
        return _upserted(results, "dashboards", route)

    # ------------------------------------------------------------------ project validation

    async def validate_project(self, project: str) -> list[dict[str, Any]]:
        """The project validator's results for charts and dashboards: `POST …/validate`
        schedules a job, its status is read (waits doubling from 0.5 s to 5 s) until it is
        `completed`, then `GET …/validate` answers the project's latest results. The POST
        is retried as a read would be: running a validation twice changes nothing else."""
        path = {"projectUuid": project}
        body = {"validationTargets": ["charts", "dashboards"]}
        started = await self._results("POST", VALIDATE, path=path, json=body, idempotent=True)
        job = str(required(started, "jobId", VALIDATE, "POST"))
        wait = 0.5
        for _ in range(VALIDATION_POLLS):
            status = await self._results("GET", JOB_STATUS, path={"jobId": job})
            state = required(status, "status", JOB_STATUS)
            if state == "completed":
                break
            if state == "error":
                raise ValidationUnfinished(f"the validation job {job} failed: {status.get('details')}",
                                           method="GET", route=JOB_STATUS)  # fmt: skip
            await self._sleep(wait)
            wait = min(wait * 2, 5.0)
        else:
            raise ValidationUnfinished(
                f"the validation job {job} did not complete after {VALIDATION_POLLS} status reads",
                method="GET",
                route=JOB_STATUS,
                hint="Lightdash's scheduler worker may be busy or down",
            )
        results = await self._results("GET", VALIDATE, path=path)
        if not isinstance(results, list):
            raise ApiStatusError(200, "the answer's `results` is not a list of validations",
                                 method="GET", route=VALIDATE)  # fmt: skip
        return results

    # ------------------------------------------------------------------ schedulers

    async def schedulers(self, project: str) -> list[dict[str, Any]]:
        """Every scheduler of a project with its targets, from the (documented) logs route:
        at `results.schedulers` in 0.1471, at `results.data.schedulers` in 1.219."""
        route = "/api/v1/schedulers/{projectUuid}/logs"
        results = await self._results("GET", route, path={"projectUuid": project})
        if isinstance(results, dict) and isinstance(results.get("data"), dict):
            results = results["data"]
        return list(required(results, "schedulers", route))

    async def create_scheduler(
        self,
        project: str,
        resource: tuple[str, str],
        body: dict[str, Any],
        *,
        ordinal: int = 1,
        slug: str | None = None,
    ) -> str:
        """`resource`: ("chart", "dashboard" or 1.219's "sqlchart", its uuid). Through the web
        app's routes (1.219 declares them), a SQL chart's through its sqlRunner route. `ordinal`: this one's place among those of its name on the
        resource, so a lost answer's lookup finds it and not an earlier namesake; `slug`:
        1.219's, sent so the copy keeps it."""
        kind, uuid = resource

        async def recover() -> Reply | None:
            same = [
                s for s in await self.schedulers(project)
                if s.get("name") == body["name"]
                and uuid in (s.get("savedChartUuid"), s.get("dashboardUuid"), s.get("savedSqlUuid"))
            ]  # fmt: skip
            same.sort(key=lambda s: (s.get("createdAt") or "", s.get("schedulerUuid") or ""))
            return self._found(same[ordinal - 1]) if len(same) >= ordinal else None

        route, path = {
            "chart": (CHART_SCHEDULERS, {"chartUuid": uuid}),
            "dashboard": (DASHBOARD_SCHEDULERS, {"dashboardUuid": uuid}),
            "sqlchart": (SQL_SCHEDULERS, {"projectUuid": project, "savedSqlUuid": uuid}),
        }[kind]
        if await self.modern():  # required in 1.219 (422 without them); null is accepted
            body = {"appUuid": None, "appName": None, **body, **({"slug": slug} if slug else {})}
        results = await self._results("POST", route, path=path, json=body, recover=recover)
        return str(results["schedulerUuid"])

    async def update_scheduler(self, scheduler: str, body: dict[str, Any]) -> None:
        await self._results("PATCH", "/api/v1/schedulers/{schedulerUuid}",
                         path={"schedulerUuid": scheduler}, json=body)  # fmt: skip


def _upserted(results: Any, items: str, route: str) -> Upserted:
    changes = required(results, items, route, "POST")
    if not changes:
        return Upserted(action=None, uuid=None)
    first = changes[0]
    data = required(first, "data", route, "POST")
    return Upserted(
        action=required(first, "action", route, "POST"), uuid=required(data, "uuid", route, "POST")
    )
