"""Every list the client walks returns each object exactly once, at the largest page size."""

from __future__ import annotations

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from tests.conftest import client_for


def _big_org(documents: int, users: int) -> tuple[st.OrgState, str]:
    scenario = generate(ScenarioSpec(documents=0, users=3, schedules=0))
    org = scenario.state
    model = next(m for m in org.models.values() if m.kind == "SHARED")
    owner = next(iter(org.users))
    for i in range(documents):
        # Duplicate names on purpose: the keyset cursor must break ties by identifier.
        doc = st.Document(
            name=f"Doc {i % 97}",
            owner_id=owner,
            model_id=model.id,
            connection_id=model.connection_id or "",
        )
        org.documents[doc.id] = doc
    for i in range(users):
        user = st.User(email=f"person{i:04d}@big.example", display_name=f"Person {i}")
        org.users[user.id] = user
    return org, scenario.org_token


async def test_1000_documents_and_250_scim_users_each_exactly_once(start_fake):
    org, token = _big_org(1000, 250)
    fake = await start_fake(org)
    async with client_for(fake, token) as client:
        docs = [d.identifier async for d in client.list_documents()]
        users = [u.id async for u in client.list_users()]
    assert len(docs) == 1000 and set(docs) == {d.identifier for d in org.documents.values()}
    expected_users = {u.id for u in org.users.values() if not u.embed}
    assert len(users) == len(expected_users) == 253 and set(users) == expected_users
    # Largest page sizes: 100 documents per page, 100 SCIM users per page.
    assert fake.log.count("GET", "/api/v1/documents") == 10
    assert fake.log.count("GET", "/api/scim/v2/Users") == 3


async def test_page_number_schedules_and_small_email_only_pages(start_fake):
    scenario = generate(ScenarioSpec(documents=40, schedules=0))
    org = scenario.state
    doc = next(d for d in org.documents.values() if d.has_dashboard and not d.deleted)
    for i in range(230):
        s = st.Schedule(
            identifier=doc.identifier,
            name=f"S {i:03d}",
            schedule="0 0 8 ? * MON *",
            timezone="UTC",
            format="pdf",
            destination_type="email",
            owner_id=doc.owner_id,
        )
        org.schedules[s.id] = s
    for i in range(45):
        eo = st.EmailOnlyUser(email=f"ext{i:02d}@x.example")
        org.email_only[eo.user_id] = eo
    fake = await start_fake(org)
    async with client_for(fake, scenario.org_token) as client:
        schedules = [s.id async for s in client.list_schedules()]
        email_only = [e.email async for e in client.list_email_only_users()]
    assert sorted(schedules) == sorted(org.schedules) and len(schedules) == 230
    assert len(email_only) == len(set(email_only)) == 48
    assert fake.log.count("GET", "/api/v1/schedules") == 3  # pages "1", "2", "3" of 100
    assert fake.log.count("GET", "/api/v1/users/email-only") == 3  # 20 per page at most


async def test_access_list_pages(start_fake, scenario):
    org = scenario.state
    doc = next(d for d in org.documents.values() if not d.deleted)
    for user in list(org.users.values())[:10]:
        doc.permits.append(st.Permit(user_id=user.id, role="VIEWER"))
    fake = await start_fake(org)
    async with client_for(fake, scenario.org_token) as client:
        principals = [p async for p in client.access_list(doc.identifier, access_source="direct")]
    assert len(principals) == len(doc.permits) + 1  # the owner is listed too
