"""A realistic Lightdash organization for tests, benchmarks and the demo, generated from a seed.

Two projects, staging upstream of prod; users, groups with members, user attributes with
values for users and groups, project access for both; staging's tags (made in the app, and
one of its dbt project's YAML); nested spaces (when the fake serves nesting), private and shared, with user and group
access and unicode names; charts of several types, some saved inside dashboards; dashboards
with chart, markdown and loom tiles, tabs, and filters that target tiles; schedulers on
charts and dashboards, by email and Slack, some disabled, some with thresholds (alerts).
Content lives in staging; prod starts with a little of its own. Both projects are built
from one dbt project: the explores orders, customers and payments, each with the fields the
charts name, so the validator finds nothing broken.
"""

from __future__ import annotations

import random
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from omnimigrate.platforms.lightdash.fake import state as st

FIRST = ["Ada", "Björn", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustav", "Hana", "Iñigo", "Jun"]
LAST = ["Lovelace", "Åström", "Durand", "Ivanov", "Kim", "Haddad", "Nyström", "Sato", "Ortiz"]
SPACE_WORDS = ["Finance", "Ventes", "Marketing / Brand", "Produit", "Opérations", "データ", "Growth",
               "Support", "Équipe", "Roadmap", "Ρυθμίσεις", "People", "Forecasts", "Métricas"]  # fmt: skip
CHART_TYPES = ("table", "big_number", "cartesian", "pie", "funnel")
EXPLORES = ("orders", "customers", "payments")
ROLES = ("viewer", "interactive_viewer", "editor", "developer", "admin")
SPACE_ROLES = ("viewer", "editor", "admin")


@dataclass
class ScenarioSpec:
    users: int = 24
    groups: int = 5
    spaces: int = 22
    charts: int = 210
    dashboards: int = 52
    schedulers: int = 18
    nested: bool = True  # give spaces parents (served only by a fake with nested_spaces)
    seed: int = 7


@dataclass
class Scenario:
    state: st.LightdashState
    token: str
    staging: st.Project
    prod: st.Project


# staging's tags: (name, color, yamlReference): two made in the app, one from the YAML
TAGS = (("Finance", "#1f77b4", None), ("Déprécié", "#d62728", None),
        ("Core metrics", "#2ca02c", "core_metrics"))  # fmt: skip


def generate(spec: ScenarioSpec | None = None) -> Scenario:
    spec = spec or ScenarioSpec()
    rng = random.Random(spec.seed)
    state = st.LightdashState(org_name="Acme Analytics")
    admin = state.add_user("admin@acme.example", "Ada", "Admin", role="admin")
    token = f"ldpat_{rng.getrandbits(96):024x}"
    state.tokens[token] = admin.uuid
    users = [admin] + [
        state.add_user(f"user{n}@acme.example", rng.choice(FIRST), rng.choice(LAST))
        for n in range(1, spec.users)
    ]
    groups = [
        state.add_group(name, [u.uuid for u in rng.sample(users[1:], k=min(4, len(users) - 1))])
        for name in ["Analysts", "Finance Équipe", "Executives", "データ Team", "Contractors",
                     "Sales Ops", "Support"][: spec.groups]
    ]  # fmt: skip
    for n, (name, values) in enumerate([("region", ["EU", "US"]), ("is admin saas", ["true"])]):
        attr = st.Attribute(st.new_uuid(), name, f"row filter {n}", defaults=values[:1])
        attr.users = {u.uuid: values for u in users[1 + n : 4 + n]}
        attr.groups = {groups[n % len(groups)].uuid: values[::-1]} if groups else {}
        state.attributes[attr.uuid] = attr
    staging = state.add_project("Staging")
    staging.scheduler_timezone = "Europe/Paris"
    for name, color, yaml_reference in TAGS:
        tag = st.Tag(st.new_uuid(), name, color, admin.uuid, yaml_reference)
        staging.tags[tag.uuid] = tag
    prod = state.add_project("Production", upstream=staging.uuid)
    for project in (staging, prod):
        project.explores = explores()
        for u in rng.sample(users[1:], k=min(10, len(users) - 1)):
            project.access[u.uuid] = rng.choice(ROLES)
        for g in rng.sample(groups, k=min(3, len(groups))):
            project.group_access[g.uuid] = rng.choice(ROLES)
    Builder(state, staging, rng, users, groups, spec).build()
    small = ScenarioSpec(spaces=2, charts=3, dashboards=1, schedulers=0, nested=False)
    Builder(state, prod, rng, users, groups, small).build()
    return Scenario(state, token, staging, prod)


class Builder:
    """Fills one project with content."""

    def __init__(
        self,
        state: st.LightdashState,
        project: st.Project,
        rng: random.Random,
        users: list[st.User],
        groups: list[st.Group],
        spec: ScenarioSpec,
    ) -> None:
        self.state, self.project, self.rng = state, project, rng
        self.users, self.groups, self.spec = users, groups, spec

    def build(self) -> None:
        spaces = [self.space(n) for n in range(self.spec.spaces)]
        charts = [self.chart(n, self.rng.choice(spaces)) for n in range(self.spec.charts)]
        boards = [
            self.dashboard(n, self.rng.choice(spaces), charts) for n in range(self.spec.dashboards)
        ]
        for n in range(self.spec.schedulers):
            if n % 2 and boards:
                self.scheduler(n, dashboard=self.rng.choice(boards))
            else:
                self.scheduler(n, chart=self.rng.choice(charts))

    def space(self, n: int) -> st.Space:
        name = f"{SPACE_WORDS[n % len(SPACE_WORDS)]} {n // len(SPACE_WORDS) + 1}"
        taken = {s.slug for s in self.project.spaces.values()}
        slug = self.project.unique_slug(st.slugify(name), taken)
        parents = [s for s in self.project.spaces.values() if s.parent is None]
        parent = (
            self.rng.choice(parents).uuid if self.spec.nested and parents and n % 3 == 2 else None
        )
        space = st.Space(st.new_uuid(), name, slug, is_private=n % 4 == 1, parent=parent)
        for u in self.rng.sample(self.users[1:], k=2 if n % 2 else 0):
            space.users[u.uuid] = self.rng.choice(SPACE_ROLES)
        for g in self.rng.sample(self.groups, k=1 if n % 3 else 0):
            space.groups[g.uuid] = self.rng.choice(SPACE_ROLES)
        self.project.spaces[space.uuid] = space
        return space

    def chart(self, n: int, space: st.Space) -> st.Chart:
        kind = CHART_TYPES[n % len(CHART_TYPES)]
        explore = self.rng.choice(EXPLORES)
        content: dict[str, Any] = {
            "name": f"{explore.title()} chart {n} — {space.name}",
            "tableName": explore,
            "metricQuery": {
                "exploreName": explore,
                "dimensions": [f"{explore}_created_date"],
                "metrics": [f"{explore}_count"],
                "filters": {},
                "sorts": [{"fieldId": f"{explore}_created_date", "descending": bool(n % 2)}],
                "limit": 500,
                "tableCalculations": [],
            },
            "chartConfig": _chart_config(kind, explore),
            "tableConfig": {"columnOrder": [f"{explore}_created_date", f"{explore}_count"]},
        }
        if n % 3 == 0:
            content["description"] = f"Tracks {explore} — réf. {n}"
        taken = {c.slug for c in self.project.charts.values()}
        slug = self.project.unique_slug(st.slugify(content["name"]), taken)
        chart = st.Chart(st.new_uuid(), slug, space.uuid, None, content, self.state.now())
        self.project.charts[chart.uuid] = chart
        return chart

    def dashboard(self, n: int, space: st.Space, charts: list[st.Chart]) -> st.Dashboard:
        tabs = (
            [{"uuid": st.new_uuid(), "name": name, "order": i}
             for i, name in enumerate(["Overview", "Détails"])]
            if n % 3 == 0 else []
        )  # fmt: skip
        free = [c for c in charts if c.dashboard is None]
        picked = self.rng.sample(free, k=min(3, len(free)))
        tiles = [self.chart_tile(c, i, tabs) for i, c in enumerate(picked)]
        tiles.append(
            self.tile(
                "markdown", 3, tabs, {"title": "Notes", "content": f"## Dashboard {n}\nÀ lire."}
            )
        )
        if n % 2:
            tiles.append(
                self.tile(
                    "loom",
                    4,
                    tabs,
                    {"title": "Walkthrough", "url": f"https://www.loom.com/share/{n:032x}"},
                )
            )
        name = f"Dashboard {n} — {space.name}"
        taken = {d.slug for d in self.project.dashboards.values()}
        slug = self.project.unique_slug(st.slugify(name), taken)
        target = {"fieldId": "orders_created_date", "tableName": "orders"}
        chart_tiles = [t["uuid"] for t in tiles if t["type"] == "saved_chart"]
        filters = {
            "dimensions": [{
                "id": st.new_uuid(), "operator": "inThePast", "values": [n % 12 + 1],
                "settings": {"unitOfTime": "months", "completed": False}, "target": target,
                "label": "Période", "tileTargets": {u: target for u in chart_tiles[:2]},
            }] if chart_tiles else [],
            "metrics": [],
            "tableCalculations": [],
        }  # fmt: skip
        content = {"name": name, "tabs": tabs, "filters": filters, "tiles": tiles}
        if n % 2 == 0:
            content["description"] = f"KPIs for {space.name}"
        board = st.Dashboard(st.new_uuid(), slug, space.uuid, content, self.state.now())
        self.project.dashboards[board.uuid] = board
        if picked and n % 4 == 0:  # a chart saved inside this dashboard
            picked[0].dashboard, picked[0].space = board.uuid, space.uuid
        return board

    def tile(self, kind: str, i: int, tabs: list[dict], props: dict) -> dict:
        tile = {"uuid": st.new_uuid(), "type": kind, "x": (i % 2) * 18, "y": (i // 2) * 9,
                "h": 9, "w": 18, "properties": props}  # fmt: skip
        if tabs:
            tile["tabUuid"] = tabs[i % len(tabs)]["uuid"]
        return tile

    def chart_tile(self, chart: st.Chart, i: int, tabs: list[dict]) -> dict:
        props = {"savedChartUuid": chart.uuid, "title": chart.content["name"][:40]}
        if i % 2:
            props["hideTitle"] = True
        return self.tile("saved_chart", i, tabs, props)

    def scheduler(
        self, n: int, chart: st.Chart | None = None, dashboard: st.Dashboard | None = None
    ) -> None:
        stamp = self.state.now()
        fields: dict[str, Any] = {
            "name": f"{'Alert' if n % 5 == 0 else 'Delivery'} {n} — hebdo",
            "message": f"Rapport n°{n}",
            "format": "csv" if chart else "image",
            "cron": f"0 {n % 24} * * {n % 7}",
            "timezone": "Europe/Paris",
            "enabled": n % 4 != 3,
            "options": {"formatted": True, "limit": "table"} if chart else {"withPdf": n % 2 == 0},
            "includeLinks": True,
            "savedChartUuid": chart.uuid if chart else None,
            "dashboardUuid": dashboard.uuid if dashboard else None,
            "createdBy": self.users[0].uuid,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        if chart and n % 5 == 0:
            fields["thresholds"] = [
                {"fieldId": "orders_count", "operator": "greaterThan", "value": 100 + n}
            ]
            fields["notificationFrequency"] = "once"
        if dashboard and n % 3 == 0:
            fields["selectedTabs"] = [t["uuid"] for t in dashboard.content["tabs"]][:1]
        targets = (
            [{"channel": f"C0{n:07d}", "uuid": st.new_uuid()}]
            if n % 2 else
            [{"recipient": f"user{1 + n % 5}@acme.example", "uuid": st.new_uuid()},
             {"recipient": "ops@acme.example", "uuid": st.new_uuid()}]
        )  # fmt: skip
        scheduler = st.Scheduler(
            st.new_uuid(), fields, targets, self.project.scheduler_slug(fields["name"])
        )
        self.project.schedulers[scheduler.uuid] = scheduler


def _chart_config(kind: str, explore: str) -> dict:
    if kind == "table":
        return {"type": "table", "config": {"showTableNames": True, "hideRowNumbers": False}}
    if kind == "big_number":
        return {"type": "big_number", "config": {"label": "Total", "showBigNumberLabel": True}}
    if kind == "cartesian":
        layout = {"xField": f"{explore}_created_date", "yField": [f"{explore}_count"]}
        return {"type": "cartesian", "config": {"layout": layout, "eChartsConfig": {}}}
    return {"type": kind}


def explores() -> dict[str, st.Explore]:
    """The dbt project's explores: what the scenario's charts and filters name."""
    return {
        e: st.Explore(dimensions={f"{e}_created_date"}, metrics={f"{e}_count"}) for e in EXPLORES
    }


def standby(source: st.LightdashState, projects: tuple[str, ...] = ("Staging",)) -> Scenario:
    """Another instance with the same people under other uuids: the same users (by email)
    and groups (by name, without members), and an empty project per name in `projects`,
    deployed from the same dbt project (the source's project of that name's explores)."""
    state = st.LightdashState(org_name="Acme standby")
    admin = None
    for user in source.users.values():
        copy = state.add_user(user.email, user.first_name, user.last_name, user.role)
        admin = admin or (copy if user.role == "admin" else None)
    assert admin is not None
    token = "ldpat_standby_" + admin.uuid[:8]
    state.tokens[token] = admin.uuid
    for group in source.groups.values():
        state.add_group(group.name, [])
    made = [state.add_project(name) for name in projects]
    models = {p.name: p.explores for p in source.projects.values()}
    for project in made:
        project.explores = deepcopy(models.get(project.name, {}))
    return Scenario(state, token, made[0], made[-1])
