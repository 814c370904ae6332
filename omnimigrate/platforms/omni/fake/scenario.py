"""Builds realistic organizations for the fake, deterministically from a seed.

A generated org has what makes backups and restores hard: folders nested five deep with
spaces and unicode in their names, personal (restricted) folders, dashboards and
workbook-only documents on several shared models with YAML files, basic, verified and
homepage labels, users, groups and email-only users, document and folder permits, schedules
and alerts to email, Slack and webhooks (some paused), spreadsheet uploads inside exports,
documents in the trash, model roles, and one document whose export Omni refuses.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from omnimigrate.platforms.omni.fake import state as st

FOLDER_WORDS = [
    "Sales",
    "Marketing",
    "Finance",
    "Ops",
    "Produkt",
    "Données",
    "売上",
    "Q3 2026",
    "EMEA & APAC",
    "Board Pack",
    "Ad-hoc",
    "Zürich Team",
    "Éxécutif",
]
DOC_WORDS = [
    "Revenue",
    "Pipeline",
    "Churn",
    "Cohorts",
    "Funnel",
    "Forecast",
    "KPIs",
    "Weekly",
    "Übersicht",
    "Margins",
    "Growth",
    "Retention",
]
LABELS = [
    ("Marketing", False, False),
    ("Q3", False, False),
    ("Draft", False, False),
    ("Certified", True, False),
    ("Finance", True, False),
    ("Home", False, True),
]
GROUPS = ["Analysts", "Finance Team", "Executives", "Data Platform", "Sales Ops"]
ROLES = ["VIEWER", "EDITOR", "MANAGER"]
CRONS = ["0 0 8 ? * MON *", "0 30 6 * * ? *", "0 0 9 1 * ? *", "0 15 7 ? * MON-FRI *"]
TIMEZONES = ["UTC", "Europe/Zurich", "America/New_York", "Asia/Tokyo"]


@dataclass
class ScenarioSpec:
    documents: int = 60
    users: int = 12
    groups: int = 4
    email_only_users: int = 3
    folders: int = 16
    depth: int = 5
    schedules: int = 15
    seed: int = 7


@dataclass
class Scenario:
    state: st.OrgState
    org_token: str
    personal_token: str
    admin_id: str


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def mini(self) -> str:
        return f"{self.rng.getrandbits(32):08x}"


def generate(spec: ScenarioSpec | None = None, *, base_time: datetime | None = None) -> Scenario:
    spec = spec or ScenarioSpec()
    rng = random.Random(spec.seed)
    ids = _Ids(rng)
    clock = base_time or datetime(2026, 11, 1, tzinfo=UTC)

    def stamp() -> str:
        return st.iso(clock - timedelta(minutes=rng.randrange(1, 60 * 24 * 90)))

    org = st.OrgState(org_id=ids.uuid())
    users = _people(org, spec, ids, rng)
    admin = users[0]
    shared = _models(org, ids, stamp)
    _labels(org)
    folders = _folders(org, spec, ids, rng, users, stamp)
    docs = _documents(org, spec, ids, rng, users, folders, shared, stamp)
    _favorites(users, docs, random.Random(spec.seed + 1))  # its own draws: the rest stays as it was
    _schedules(org, spec, ids, rng, users, docs, stamp)
    _roles(org, rng, users, shared)
    org.user_attributes = {
        a.id: a
        for a in (
            st.UserAttribute(
                id=ids.uuid(),
                name="region",
                label="Region",
                default_value="emea",
                description="Row-level filter on the orders region",
            ),
            st.UserAttribute(
                id=ids.uuid(),
                name="cost_centers",
                label="Cost centers",
                multiple_values=True,
                default_value=[],
            ),
            st.UserAttribute(
                id=ids.uuid(), name="omni_user_timezone", label="Timezone", system=True
            ),
        )
    }
    org_token = f"omni_org_{ids.mini()}{ids.mini()}"
    pat = f"omni_pat_{ids.mini()}{ids.mini()}"
    org.tokens = {
        org_token: st.Token(token=org_token, kind="org", user_id=admin.id),
        pat: st.Token(token=pat, kind="personal", user_id=users[1].id),
    }
    return Scenario(org, org_token, pat, admin.id)


def _people(org: st.OrgState, spec: ScenarioSpec, ids: _Ids, rng: random.Random) -> list[st.User]:
    users = []
    for i in range(spec.users):
        name = rng.choice(
            ["Ana", "Bjørn", "Chloé", "Dev", "Émile", "Fatima", "Grace", "Hiro", "Ines", "Jonas"]
        )
        user = st.User(
            id=ids.uuid(),
            email=f"user{i:03d}@acme.example",
            display_name=f"{name} {i}",
            attributes={"region": rng.choice(["emea", "amer", "apac"])},
        )
        org.users[user.id] = user
        users.append(user)
    embed = st.User(
        id=ids.uuid(), email="embed-viewer@partner.example", display_name="Embed Viewer", embed=True
    )
    org.users[embed.id] = embed
    for name in GROUPS[: spec.groups]:
        members = rng.sample([u.id for u in users], k=max(1, len(users) // 3))
        group = st.Group(id=ids.mini(), name=name, member_ids=members)
        org.groups[group.id] = group
    for i in range(spec.email_only_users):
        eo = st.EmailOnlyUser(
            user_id=ids.uuid(),
            email=f"external{i}@client.example",
            attributes={"omni_user_timezone": "UTC"},
        )
        org.email_only[eo.user_id] = eo
    return users


def _models(org: st.OrgState, ids: _Ids, stamp: Callable[[], str]) -> list[st.Model]:
    conns = [
        st.Connection(id=ids.uuid(), name="warehouse", dialect="postgres"),
        st.Connection(
            id=ids.uuid(),
            name="snowflake-prod",
            dialect="snowflake",
            database="PROD",
            default_schema="ANALYTICS",
        ),
    ]
    shared: list[st.Model] = []
    for conn in conns:
        org.connections[conn.id] = conn
        schema = st.Model(
            id=ids.uuid(),
            name=None,
            kind="SCHEMA",
            connection_id=conn.id,
            files=SCHEMA_VIEWS,
            created_at=stamp(),
            updated_at=stamp(),
        )
        org.models[schema.id] = schema
    for name, conn in (("Sales", conns[0]), ("Marketing", conns[0]), ("Finance", conns[1])):
        model = st.Model(
            id=ids.uuid(),
            name=name,
            kind="SHARED",
            connection_id=conn.id,
            files=_yaml_files(name),
            created_at=stamp(),
            updated_at=stamp(),
        )
        org.models[model.id] = model
        shared.append(model)
    ext = st.Model(
        id=ids.uuid(),
        name="Sales (extension)",
        kind="SHARED_EXTENSION",
        connection_id=conns[0].id,
        base_model_id=shared[0].id,
        files={"orders.view.yaml": "dimensions:\n  region: {}\n"},
        created_at=stamp(),
        updated_at=stamp(),
    )
    follower = st.Model(
        id=ids.uuid(),
        name="dbt Core",
        kind="SHARED",
        connection_id=conns[1].id,
        git_follower=True,
        files=_yaml_files("dbt Core"),
        created_at=stamp(),
        updated_at=stamp(),
    )
    org.models[ext.id] = ext
    org.models[follower.id] = follower
    return shared


SCHEMA_VIEWS = {
    "orders.view.yaml": "schema: public\ntable_name: orders\ndimensions:\n  id: {primary_key: true}\n  amount: {}\nmeasures:\n  total: {sql: '${amount}', aggregate_type: sum}\n",
    "customers.view.yaml": "schema: public\ntable_name: customers\ndimensions:\n  id: {primary_key: true}\n  email: {}\n",
    "events.view.yaml": "schema: public\ntable_name: events\ndimensions:\n  id: {primary_key: true}\n",
}


def _yaml_files(name: str) -> dict[str, str]:
    """A shared model's own layer: over the schema model's views (SCHEMA_VIEWS), it adds
    model settings, relationships, a topic, and for some models an overriding view."""
    low = name.lower().replace(" ", "_")
    own = {
        "model.yaml": f"# {name} model\nlabel: {name}\nfiscal_month_offset: 0\n",
        "relationships.yaml": "- join_from_view: orders\n  join_to_view: customers\n  on_sql: ${orders.customer_id} = ${customers.id}\n",
        f"{low}.topic.yaml": f"base_view: orders\nlabel: {name}\njoins:\n  customers: {{}}\n",
    }
    if name in ("Sales", "Finance"):  # an own copy of a schema view, changed
        own["customers.view.yaml"] = SCHEMA_VIEWS["customers.view.yaml"] + "  name: {}\n"
    return own


def _labels(org: st.OrgState) -> None:
    for name, verified, homepage in LABELS:
        org.labels[name.lower()] = st.Label(
            name=name,
            verified=verified,
            homepage=homepage,
            color="#3366ff" if verified else None,
            description=f"{name} content" if homepage else None,
        )


def _folders(
    org: st.OrgState,
    spec: ScenarioSpec,
    ids: _Ids,
    rng: random.Random,
    users: list[st.User],
    stamp: Callable[[], str],
) -> list[st.Folder]:
    folders: list[st.Folder] = []

    def add(name: str, parent: st.Folder | None, scope: str, owner: str) -> st.Folder:
        base = (parent.path + "/" if parent else "") + st.slug(name)
        path, n = base, 1
        while org.folder_by_path(path):
            n += 1
            path = f"{base}-{n}"
        folder = st.Folder(
            id=ids.uuid(),
            name=name,
            path=path,
            scope=scope,
            owner_id=owner,
            parent_id=parent.id if parent else None,
            created_at=stamp(),
            updated_at=stamp(),
        )
        org.folders[folder.id] = folder
        folders.append(folder)
        return folder

    chain: st.Folder | None = None
    for level in range(spec.depth):  # one chain at full depth
        chain = add(
            f"{FOLDER_WORDS[level % len(FOLDER_WORDS)]} L{level + 1}",
            chain,
            "organization",
            users[0].id,
        )
    for name in ("Q4 Reviews", "Q4-Reviews"):  # siblings whose names give the same slug
        add(name, folders[0], "organization", rng.choice(users).id)
    # and siblings renamed since (PATCH path) so each name's slug is the other's path
    add("Q4-Reviews-1", None, "organization", rng.choice(users).id).path = "q4-reviews"
    add("Q4 Reviews", None, "organization", rng.choice(users).id).path = "q4-reviews-1"
    while len(folders) < spec.folders:
        org_folders = [
            f for f in folders if f.scope == "organization" and f.path.count("/") < spec.depth - 1
        ]
        parent = rng.choice([None, *org_folders])
        add(
            f"{rng.choice(FOLDER_WORDS)} {len(folders)}",
            parent,
            "organization",
            rng.choice(users).id,
        )
    for user in users[:3]:  # personal folders, one with a subfolder
        drafts = add(f"{user.display_name}'s drafts", None, "restricted", user.id)
        if user is users[0]:
            add("Scratch", drafts, "restricted", user.id)
    group_ids = list(org.groups)
    for folder in rng.sample(
        [f for f in folders if f.scope == "organization"], k=max(1, len(folders) // 3)
    ):
        folder.permits.append(st.Permit(user_id=rng.choice(users).id, role=rng.choice(ROLES)))
        if group_ids:
            folder.permits.append(
                st.Permit(group_id=rng.choice(group_ids), role="VIEWER", access_boost=True)
            )
    return folders


def _export(
    ids: _Ids, rng: random.Random, name: str, dashboard: bool, model: st.Model, uploads: bool
) -> dict:
    queries = [
        {"id": ids.uuid(), "name": f"{name} tile {i}", "queryIdentifierMapKey": str(i + 1)}
        for i in range(rng.randint(1, 4))
    ]
    filters = {
        ids.mini(): {"fieldName": "orders.created_at", "kind": "TIME_FOR_INTERVAL_DURATION"}
        for _ in range(rng.randint(0, 2))
    }
    export: dict = {
        "workbookModel": {"base_model_id": model.id, "views": {"custom": {"sql": "select 1"}}},
        "queryModels": {
            q["queryIdentifierMapKey"]: {"table": "orders", "fields": ["orders.total"]}
            for q in queries
        },
        "fileUploads": {},
        "dashboard": None,
    }
    if dashboard:
        export["dashboard"] = {
            "queries": queries,
            "filterConfig": filters,
            "filterOrder": list(filters),
            "layout": [{"i": q["queryIdentifierMapKey"], "w": 6, "h": 4} for q in queries],
        }
    if uploads:
        data = base64.b64encode(f"region,revenue\nemea,{rng.randint(1, 999)}\n".encode()).decode()
        export["fileUploads"] = {
            ids.uuid(): {"fileName": "targets.csv", "contentType": "text/csv", "data": data}
        }
    return export


def _documents(
    org: st.OrgState,
    spec: ScenarioSpec,
    ids: _Ids,
    rng: random.Random,
    users: list[st.User],
    folders: list[st.Folder],
    shared: list[st.Model],
    stamp: Callable[[], str],
) -> list[st.Document]:
    docs = []
    group_ids = list(org.groups)
    labels = [x.name for x in org.labels.values()]
    for i in range(spec.documents):
        personal = i % 25 == 7  # a personal document outside any folder
        folder = None if personal else rng.choice([None, *folders])
        model = rng.choice(shared)
        dashboard = rng.random() < 0.8
        name = f"{rng.choice(DOC_WORDS)} {i}"
        owner = folder.owner_id if folder and folder.scope == "restricted" else rng.choice(users).id
        doc = st.Document(
            id=ids.uuid(),
            identifier=ids.mini(),
            name=name,
            description=rng.choice([None, f"About {name}"]),
            folder_id=folder.id if folder else None,
            owner_id=owner,
            scope=folder.scope if folder else ("restricted" if personal else "organization"),
            model_id=model.id,
            connection_id=model.connection_id or "",
            has_dashboard=dashboard,
            deleted=rng.random() < 0.05,
            labels=rng.sample(labels, k=rng.randint(0, 2)),
            export=_export(ids, rng, name, dashboard, model, uploads=rng.random() < 0.15),
            created_at=stamp(),
            updated_at=stamp(),
        )
        for _ in range(rng.randint(0, 3)):
            if rng.random() < 0.7 or not group_ids:
                doc.permits.append(st.Permit(user_id=rng.choice(users).id, role=rng.choice(ROLES)))
            else:
                doc.permits.append(st.Permit(group_id=rng.choice(group_ids), role="VIEWER"))
        doc.permits = list({p.principal: p for p in doc.permits if p.user_id != owner}.values())
        org.documents[doc.id] = doc
        docs.append(doc)
    live = [d for d in docs if not d.deleted]
    if live:  # one document whose export Omni refuses
        live[-1].settings["exportRefusal"] = {
            "status": 403,
            "detail": "Forbidden: document cannot be exported",
        }
    return docs


def _favorites(users: list[st.User], docs: list[st.Document], rng: random.Random) -> None:
    """Each user favorites up to three live documents they can see (one of their own, or one
    of the organization's), never the one whose export Omni refuses."""
    live = [d for d in docs if not d.deleted and "exportRefusal" not in d.settings]
    for user in users:
        visible = [d for d in live if d.scope == "organization" or d.owner_id == user.id]
        for doc in rng.sample(visible, k=min(len(visible), rng.randint(0, 3))):
            doc.favorited_by.append(user.id)


def _schedules(
    org: st.OrgState,
    spec: ScenarioSpec,
    ids: _Ids,
    rng: random.Random,
    users: list[st.User],
    docs: list[st.Document],
    stamp: Callable[[], str],
) -> None:
    dashboards = [d for d in docs if d.has_dashboard and not d.deleted]
    externals = [e.email for e in org.email_only.values()]
    for i in range(min(spec.schedules, len(dashboards) * 2)):
        doc = rng.choice(dashboards)
        kind = rng.choice(["email", "email", "slack", "webhook"])
        options: dict = {"showFilters": True}
        # a restricted dashboard's schedules belong to someone who can see it: its owner,
        # or a user it is shared with (whose permit must be restored first)
        sharers = [p.user_id for p in doc.permits if p.user_id]
        sched = st.Schedule(
            id=ids.uuid(),
            identifier=doc.identifier,
            name=f"{doc.name} digest {i}",
            schedule=rng.choice(CRONS),
            timezone=rng.choice(TIMEZONES),
            format=rng.choice(["pdf", "png", "csv", "link_only"]) if kind != "webhook" else "json",
            destination_type=kind,
            owner_id=rng.choice([doc.owner_id, *sharers]),
            created_at=stamp(),
            updated_at=stamp(),
        )
        if kind == "email":
            sched.user_ids = rng.sample([u.id for u in users], k=rng.randint(1, 3))
            sched.group_ids = rng.sample(list(org.groups), k=rng.randint(0, 1))
            sched.emails = rng.sample(externals, k=rng.randint(0, min(1, len(externals))))
            options["subject"] = f"{doc.name}: the {rng.choice(['daily', 'weekly'])} numbers"
            if rng.random() < 0.5:
                options["textBody"] = "Numbers attached. Reply to the data team with questions."
        elif kind == "slack":
            if rng.random() < 0.5:
                options["slackRecipientType"] = "channel"
                options["slackRecipients"] = [f"C{ids.mini().upper()}"]
            else:
                options["slackRecipientType"] = "users"
                options["slackRecipients"] = [f"U{ids.mini().upper()}" for _ in range(2)]
        else:
            options["webhookUrl"] = (
                f"https://hooks.example.com/omni/{ids.mini()}?token=whsec_{ids.mini()}"
            )
        if sched.format == "pdf":
            options.update(paperFormat="a4", paperOrientation=rng.choice(["portrait", "landscape"]))
        queries = doc.export.get("dashboard", {}).get("queries") or []
        if rng.random() < 0.25 and queries:
            options.update(
                conditionType="RESULTS_PRESENT",
                conditionQueryMapKey=queries[0]["queryIdentifierMapKey"],
            )
        elif i % 4 == 1 and len(queries) > 1:  # one tile's results (no draw: the same org)
            options["queryIdentifierMapKey"] = queries[-1]["queryIdentifierMapKey"]
        sched.options = options
        if rng.random() < 0.3:
            sched.disabled_at = stamp()
        org.schedules[sched.id] = sched


def _roles(
    org: st.OrgState, rng: random.Random, users: list[st.User], shared: list[st.Model]
) -> None:
    for user in rng.sample(users, k=max(1, len(users) // 4)):
        model = rng.choice(shared)
        org.model_roles.append(
            st.ModelRole(
                principal_type="user",
                principal_id=user.id,
                model_id=model.id,
                connection_id=model.connection_id,
                role_name="QUERIER",
            )
        )
    for gid in list(org.groups)[:2]:
        model = rng.choice(shared)
        org.model_roles.append(
            st.ModelRole(
                principal_type="group",
                principal_id=gid,
                model_id=model.id,
                connection_id=model.connection_id,
                role_name="MODELER",
            )
        )


def standby(source: st.OrgState, seed: int = 99, *, skip_users: int = 0) -> Scenario:
    """An empty instance for restores: the source's users, groups, connections, models and
    user-attribute definitions under the same names but new ids, and no content. The first
    `skip_users` non-admin users are left out (to test unmapped identities)."""
    ids = _Ids(random.Random(seed))
    org = st.OrgState(org_id=ids.uuid())
    admin_src = next(t.user_id for t in source.tokens.values() if t.kind == "org")
    # generate() mints the org key for its admin; a keyless admin would leave no one to copy
    assert admin_src is not None, "the source's org key names no user"
    users = {}
    dropped = [u for u in source.users if u != admin_src][:skip_users]
    for old, user in source.users.items():
        if old not in dropped:
            users[old] = user.model_copy(update={"id": ids.uuid()})
    org.users = {u.id: u for u in users.values()}
    for group in source.groups.values():
        members = [users[m].id for m in group.member_ids if m in users]
        group_copy = group.model_copy(update={"id": ids.mini(), "member_ids": members})
        org.groups[group_copy.id] = group_copy
    conns = {old: c.model_copy(update={"id": ids.uuid()}) for old, c in source.connections.items()}
    org.connections = {c.id: c for c in conns.values()}
    for model in source.models.values():
        conn = conns.get(model.connection_id or "")
        copy = model.model_copy(
            update={
                "id": ids.uuid(),
                "connection_id": conn.id if conn else None,
                "files": {} if model.kind in ("SHARED", "SHARED_EXTENSION") else model.files,
            }
        )
        org.models[copy.id] = copy
    for model in org.models.values():  # extension models point at the new base ids
        if model.base_model_id:
            base = source.models[model.base_model_id]
            model.base_model_id = next(
                m.id for m in org.models.values() if (m.name, m.kind) == (base.name, base.kind)
            )
    org.user_attributes = {a.id: a for a in source.user_attributes.values()}
    admin = users[admin_src]
    token = f"omni_org_{ids.mini()}{ids.mini()}"
    org.tokens = {token: st.Token(token=token, kind="org", user_id=admin.id)}
    return Scenario(org, token, "", admin.id)
