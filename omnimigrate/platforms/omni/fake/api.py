"""The fake's API: every resource's handlers over one organization's state, and their routes."""

from __future__ import annotations

from omnimigrate.platforms.omni.fake.attributes import AttributesApi
from omnimigrate.platforms.omni.fake.base import Route
from omnimigrate.platforms.omni.fake.documents import DocumentsApi
from omnimigrate.platforms.omni.fake.favorites import FavoritesApi
from omnimigrate.platforms.omni.fake.folders import FoldersApi
from omnimigrate.platforms.omni.fake.labels import LabelsApi
from omnimigrate.platforms.omni.fake.models import ModelsApi
from omnimigrate.platforms.omni.fake.people import PeopleApi
from omnimigrate.platforms.omni.fake.schedules import SchedulesApi
from omnimigrate.platforms.omni.fake.scim import ScimApi


class Api(
    AttributesApi,
    DocumentsApi,
    FavoritesApi,
    FoldersApi,
    LabelsApi,
    ModelsApi,
    SchedulesApi,
    ScimApi,
    PeopleApi,
):
    def routes(self) -> list[Route]:
        return [
            *self.attribute_routes(),
            *self.document_routes(),
            *self.favorite_routes(),
            *self.folder_routes(),
            *self.label_routes(),
            *self.model_routes(),
            *self.schedule_routes(),
            *self.scim_routes(),
            *self.people_routes(),
        ]
