"""Async, typed client for the Omni REST API (the subset backup and restore use): the
plumbing (`base.py`: attempts, retries, pagination, route fallbacks) and one module per group
of endpoints, put together as `OmniClient`."""

from __future__ import annotations

from omnimigrate.platforms.omni.client.attributes import AttributesEndpoints
from omnimigrate.platforms.omni.client.documents import DocumentsEndpoints
from omnimigrate.platforms.omni.client.folders import FoldersEndpoints
from omnimigrate.platforms.omni.client.labels import LabelsEndpoints
from omnimigrate.platforms.omni.client.models import ModelsEndpoints
from omnimigrate.platforms.omni.client.people import PeopleEndpoints
from omnimigrate.platforms.omni.client.schedules import SchedulesEndpoints


class OmniClient(
    AttributesEndpoints,
    DocumentsEndpoints,
    FoldersEndpoints,
    LabelsEndpoints,
    ModelsEndpoints,
    SchedulesEndpoints,
    PeopleEndpoints,
):
    """One instance, one API key. Share `session` between clients of the same instance."""
