"""Under injected faults and 429 storms every logical call succeeds or fails clearly, and a
write whose answer was lost is never repeated into a duplicate."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from omnimigrate.errors import ApiError, ApiStatusError
from omnimigrate.fakes.policies import FaultPlan
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.platforms.omni.fake.server import FakeSettings
from tests.conftest import client_for


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.slow
async def test_ten_percent_faults_and_429_storms(start_fake, scenario, seed):
    org = scenario.state
    plan = FaultPlan(
        seed=seed,
        rate=0.10,
        after_share=0.7,
        slow_seconds=0.05,
        storm_every=60,
        storm_length=4,
        storm_retry_after=1,
    )
    fake = await start_fake(org, FakeSettings(rate_limit=None, faults=plan))
    source = [
        d for d in org.documents.values() if not d.deleted and not d.settings.get("exportRefusal")
    ]
    model = next(m for m in org.models.values() if m.kind == "SHARED" and not m.git_follower)
    visible = sorted(
        d.identifier for d in org.documents.values() if not d.deleted and d.scope == "organization"
    )
    async with client_for(fake, scenario.org_token, timeout=5) as client:
        listed = [d.identifier async for d in client.list_documents()]
        exports = await asyncio.gather(*(client.export_document(d.identifier) for d in source))
        imports = await asyncio.gather(
            *(
                client.import_document(
                    {**ex.dump(), "baseModelId": model.id, "identifier": f"copy{i:04d}"}
                )
                for i, ex in enumerate(exports)
            )
        )
        folders = await asyncio.gather(*(client.create_folder(f"Restored {i}") for i in range(10)))
        labels = await asyncio.gather(*(client.create_label(f"Restored {i}") for i in range(10)))
        schedules = await asyncio.gather(
            *(
                client.create_schedule(
                    {
                        "identifier": "copy0000",
                        "name": f"Digest {i}",
                        "schedule": "0 0 8 ? * MON *",
                        "timezone": "UTC",
                        "format": "pdf",
                        "destinationType": "email",
                        "recipients": [{"email": "user001@acme.example"}],
                    }
                )
                for i in range(10)
            )
        )
    assert sorted(listed) == visible
    assert [i.identifier for i in imports] == [f"copy{i:04d}" for i in range(len(source))]
    assert len(folders) == len(labels) == len(schedules) == 10
    # Faults really happened, including after-the-fact ones on writes...
    faults = Counter(r.fault for r in fake.log.records if r.fault)
    assert faults["429"] >= 4 and sum(faults.values()) >= 12
    assert any(r.fault.endswith("+after") for r in fake.log.writes() if r.fault)
    # ...and none of them led to a duplicate.
    copies = Counter(
        d.identifier for d in org.documents.values() if d.identifier.startswith("copy")
    )
    assert copies == Counter({f"copy{i:04d}": 1 for i in range(len(source))})
    assert Counter(
        f.name for f in org.folders.values() if f.name.startswith("Restored")
    ) == Counter({f"Restored {i}": 1 for i in range(10)})
    assert Counter(
        s.name for s in org.schedules.values() if s.name.startswith("Digest")
    ) == Counter({f"Digest {i}": 1 for i in range(10)})


async def test_persistent_failure_gives_up_with_a_clear_error(start_fake, scenario):
    plan = FaultPlan(seed=0, rate=1.0, kinds=("503",), after_share=0.0)
    fake = await start_fake(scenario.state, FakeSettings(rate_limit=None, faults=plan))
    policy = RetryPolicy(attempts=4, max_elapsed=30, base_delay=0.01, max_delay=0.05)
    async with client_for(fake, scenario.org_token, retry=policy) as client:
        with pytest.raises(ApiStatusError) as info:
            await client.list_labels()
    assert fake.log.count("GET", "/api/v1/labels") == 4
    message = str(info.value)
    assert "\n" not in message and "503" in message and "retry later" in message


async def test_ambiguous_import_without_identifier_is_not_resent(start_fake, scenario):
    """Without an identifier an import cannot be looked up, so it is never retried blindly."""
    plan = FaultPlan(seed=0, rate=1.0, kinds=("502",), after_share=1.0)
    org = scenario.state
    fake = await start_fake(org, FakeSettings(rate_limit=None, faults=plan))
    doc = next(d for d in org.documents.values() if not d.deleted)
    model = next(m for m in org.models.values() if m.kind == "SHARED")
    body = {
        "document": {"name": "Orphan"},
        "exportVersion": "0.1",
        "queryModels": {},
        "dashboard": doc.export["dashboard"],
        "baseModelId": model.id,
    }
    before = len(org.documents)
    async with client_for(fake, scenario.org_token) as client:
        with pytest.raises(ApiError):
            await client.import_document(body)
    assert fake.log.count("POST", "/api/unstable/documents/import") == 1
    assert len(org.documents) == before + 1  # applied once, reported as failed, not repeated


@pytest.mark.parametrize(
    ("kind", "expected"), [("drop", "connection lost"), ("slow", "no answer within")]
)
async def test_dropped_and_slow_answers_are_transport_errors(start_fake, scenario, kind, expected):
    plan = FaultPlan(seed=0, rate=1.0, kinds=(kind,), after_share=0.0, slow_seconds=1.0)
    fake = await start_fake(scenario.state, FakeSettings(rate_limit=None, faults=plan))
    policy = RetryPolicy(attempts=2, max_elapsed=30, base_delay=0.01, max_delay=0.02)
    async with client_for(fake, scenario.org_token, retry=policy, timeout=0.3) as client:
        with pytest.raises(ApiError) as info:
            await client.list_labels()
    assert expected in str(info.value) and "\n" not in str(info.value)
    await asyncio.sleep(plan.slow_seconds)  # the fake logs a slow answer once it has given it
    # Two attempts; aiohttp itself resends a GET once when a reused connection is dropped.
    assert 2 <= fake.log.count("GET", "/api/v1/labels") <= 4
