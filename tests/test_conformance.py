"""The client's requests for every method conform to openapi.json, and the fake's checker is
strict enough that passing means something."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from openapi_spec_validator import validate

from omnimigrate.platforms.lightdash.fake.conformance import load_spec_dict as lightdash_spec
from omnimigrate.platforms.omni.fake.conformance import OmniExchange, load_spec_dict
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from tests.conftest import client_for

SHARED_SPEC = Path(__file__).resolve().parents[2] / "shared" / "omni-api" / "openapi.json"


async def exercise_every_method(client, org) -> set[str]:
    """Calls each public client method once; returns the names called."""
    called: set[str] = set()

    async def call(method: str, /, *args, **kw):
        called.add(method)
        result = getattr(client, method)(*args, **kw)
        if hasattr(result, "__aiter__"):
            return [x async for x in result]
        return await result

    shared = [m for m in org.models.values() if m.kind == "SHARED" and not m.git_follower]
    same = [m for m in shared if m.connection_id == shared[0].connection_id]
    users = await call("list_users")
    groups = await call("list_groups")
    doc = next(
        d
        for d in org.documents.values()
        if d.has_dashboard
        and not d.deleted
        and d.scope == "organization"
        and not d.settings.get("exportRefusal")
    )
    await call("list_documents", include_deleted=True)
    await call("get_document", doc.identifier)
    await call("document_exists", doc.identifier)
    await call("access_list", doc.identifier, access_source="direct")
    assert (await call("document_queries", doc.identifier)).queries
    await call("add_favorite", doc.identifier, users[1].id)
    assert doc.identifier in [d.identifier for d in await call("list_favorites", users[1].id)]
    export = await call("export_document", doc.identifier)
    await call(
        "import_document", {**export.dump(), "baseModelId": same[0].id, "identifier": "conform1"}
    )
    await call("update_document_model", "conform1", same[1].id)
    await call("update_document", "conform1", name="Conformance", description="checked")
    folder = await call(
        "create_folder", "Conformance Ω", scope="organization", owner_id=users[0].id
    )
    child = await call("create_folder", "Child", parent_id=folder.id, parent_path=folder.path)
    await call("update_folder", child.id, name="Child renamed")
    await call("list_folders", path=folder.path)
    await call("move_document", "conform1", folder.path)
    await call(
        "add_document_permits",
        "conform1",
        "VIEWER",
        user_ids=[users[1].id],
        group_ids=[groups[0].id],
    )
    await call("transfer_document_ownership", "conform1", users[1].id)
    await call("update_document_permits", "conform1", "EDITOR", group_ids=[groups[0].id])
    await call("revoke_document_permits", "conform1", user_ids=[users[0].id])
    await call("add_folder_permits", folder.id, "EDITOR", group_ids=[groups[0].id])
    await call("update_folder_permits", folder.id, "VIEWER", group_ids=[groups[0].id])
    await call("folder_permits", folder.id)
    await call("revoke_folder_permits", folder.id, group_ids=[groups[0].id])
    await call("list_labels")
    await call("list_user_attributes")
    await call("create_label", "Conformance", verified=True, color="#112233", description="d")
    await call("get_label", "Conformance")
    await call("update_label", "Conformance", homepage=True)
    await call("update_document_labels", "conform1", add=["Conformance"])
    await call("list_models", modelKind="SHARED")
    await call("get_model_yaml", same[0].id, include_checksums=True)
    await call("put_model_yaml", same[0].id, "conformance.view", "dimensions: {}\n")
    follower = next(m for m in org.models.values() if m.git_follower)
    assert (await call("model_git", follower.id)).git_follower
    assert isinstance((await call("content_validator", same[0].id))["content"], list)
    await call("list_connections")
    sched = await call(
        "create_schedule",
        {
            "identifier": "conform1",
            "name": "Weekly",
            "schedule": "0 0 8 ? * MON *",
            "timezone": "Europe/Zurich",
            "format": "pdf",
            "destinationType": "email",
            "recipients": [{"email": users[2].user_name}],
        },
        owner_id=users[1].id,
    )
    await call("list_schedules", identifier="conform1")
    await call("get_schedule", sched.id)
    await call(
        "add_schedule_recipients", sched.id, user_ids=[users[3].id], group_ids=[groups[0].id]
    )
    await call("schedule_recipients", sched.id)
    await call("pause_schedule", sched.id)
    await call("delete_schedule", sched.id)
    await call("find_user", users[0].user_name)
    await call("find_group", groups[0].display_name)
    new_user = await call(
        "create_user", "new.person@acme.example", "New Person", {"region": "emea"}
    )
    group = await call("create_group", "Conformance Group", [new_user.id])
    await call("list_email_only_users")
    await call("upsert_email_only_users", [f"bulk{i}@ext.example" for i in range(25)])
    await call("assign_user_model_role", users[0].id, "VIEWER", model_id=same[0].id)
    await call("assign_group_model_role", group.id, "QUERIER", model_id=same[0].id)
    await call("user_model_roles", users[0].id)
    await call("group_model_roles", group.id, modelId=same[0].id)
    await call("delete_document", "conform1")
    return called


async def test_every_client_method_conforms(start_fake, scenario):
    """The fixture fails the test at teardown if the fake saw any violation."""
    fake = await start_fake(scenario.state)
    async with client_for(fake, scenario.org_token) as client:
        called = await exercise_every_method(client, scenario.state)
    public = {n for n in dir(client) if not n.startswith("_") and callable(getattr(client, n))} - {
        "close"
    }
    assert public - called == set(), "every public client method is exercised against the fake"
    assert all(r.status < 400 for r in fake.log.records), [
        r for r in fake.log.records if r.status >= 400
    ]


async def test_client_falls_back_to_the_older_routes(start_fake, scenario):
    """An older instance has only /api/unstable YAML and PUT move: the client adapts once."""
    org = scenario.state
    fake = await start_fake(org, FakeSettings(rate_limit=None, routes="seed"))
    model = next(m for m in org.models.values() if m.kind == "SHARED")
    doc = next(d for d in org.documents.values() if not d.deleted and d.scope == "organization")
    async with client_for(fake, scenario.org_token) as client:
        for _ in range(2):
            await client.get_model_yaml(model.id)
            await client.move_document(doc.identifier, None)
    assert fake.log.count("GET", "/api/v1/models/{modelId}/yaml") == 0  # not even routed: 404
    assert fake.log.count("GET", "/api/unstable/models/{modelId}/yaml") == 2
    assert fake.log.count("PUT", "/api/v1/documents/{identifier}/move") == 2
    assert (
        sum(1 for r in fake.log.records if r.status == 404) == 2
    )  # one probe per route, then remembered


@pytest.mark.expect_violations
async def test_the_checker_rejects_nonconforming_requests(start_fake, scenario):
    fake = await start_fake(scenario.state)
    headers = {"Authorization": f"Bearer {scenario.org_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        bad = [
            http.post(f"{fake.url}/api/v1/labels", json={"name": "x"}),  # name shorter than 2
            http.get(f"{fake.url}/api/v1/content", params={"pageSize": "500"}),  # above the maximum
            http.post(
                f"{fake.url}/api/v1/folders", json={"name": "A", "parentFolderId": "not-a-uuid"}
            ),
            http.put(f"{fake.url}/api/unstable/documents/abc/update-model", json={}),  # seed schema
            http.post(f"{fake.url}/api/v1/schedules", json={"name": "no identifier"}),
        ]
        statuses = []
        for request in bad:
            async with request as resp:
                statuses.append((resp.status, (await resp.json())["detail"]))
    assert [s for s, _ in statuses] == [400] * 5
    assert all(detail.startswith("Bad Request") for _, detail in statuses)
    assert len(fake.violations) == 5 and {v.direction for v in fake.violations} == {"request"}
    fake.violations.clear()


def test_response_checker_catches_a_wrong_shape():
    fake = FakeOmni()
    assert fake.conformance is not None
    labels = OmniExchange("GET", "/api/v1/labels", "/api/v1/labels", {}, {})
    wrong = json.dumps({"labels": [{"name": "x"}]}).encode()  # required label fields missing
    fake.conformance.check_response(labels, 200, wrong, "application/json", {})
    limited = json.dumps({"detail": "slow down", "status": 429}).encode()
    fake.conformance.check_response(labels, 429, limited, "application/json", {})
    problems = [v.message for v in fake.violations]
    assert len(problems) == 2 and "Retry-After" in problems[1]


def test_fake_routes_exist_in_the_spec():
    spec = load_spec_dict()["paths"]
    fake = FakeOmni(settings=FakeSettings(routes="official", validate=False))
    for method, path, _ in fake.routes():
        assert method.lower() in spec.get(path, {}), f"{method} {path} is not in openapi.json"


def test_packaged_spec_is_the_shared_one():
    packaged = (
        Path(__file__).resolve().parents[1]
        / "omnimigrate"
        / "platforms"
        / "omni"
        / "fake"
        / "openapi.json"
    )
    assert SHARED_SPEC.is_file(), (
        f"expected Omni's spec at {SHARED_SPEC} (the shared/ folder beside the repo)"
    )
    assert packaged.read_bytes() == SHARED_SPEC.read_bytes()


@pytest.mark.parametrize(
    "load",
    [
        lambda: load_spec_dict(),
        lambda: lightdash_spec("0.1471"),
        lambda: lightdash_spec("1.219"),
    ],
    ids=["omni", "lightdash-0.1471", "lightdash-1.219"],
)
@pytest.mark.slow
def test_every_spec_a_fake_checks_against_is_a_valid_openapi_document(load):
    """The fakes parse their specs without openapi-spec-validator's pass (5 s a process), so
    the specs, as patched for the fakes, are validated here once."""
    validate(load())
