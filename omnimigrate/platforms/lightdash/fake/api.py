"""The fake Lightdash's API: every resource's handlers over one organization's state, and
their routes. The README lists every choice Lightdash's documents leave open."""

from __future__ import annotations

from omnimigrate.platforms.lightdash.fake.attributes import AttributesApi
from omnimigrate.platforms.lightdash.fake.base import Route
from omnimigrate.platforms.lightdash.fake.charts import ChartsApi
from omnimigrate.platforms.lightdash.fake.dashboards import DashboardsApi
from omnimigrate.platforms.lightdash.fake.groups import GroupsApi
from omnimigrate.platforms.lightdash.fake.organization import OrganizationApi
from omnimigrate.platforms.lightdash.fake.projects import ProjectsApi
from omnimigrate.platforms.lightdash.fake.schedulers import SchedulersApi
from omnimigrate.platforms.lightdash.fake.spaces import SpacesApi
from omnimigrate.platforms.lightdash.fake.sqlcharts import SqlChartsApi
from omnimigrate.platforms.lightdash.fake.tags import TagsApi
from omnimigrate.platforms.lightdash.fake.validation import ValidationApi


class Api(
    OrganizationApi, ProjectsApi, GroupsApi, AttributesApi, SpacesApi, ChartsApi, DashboardsApi,
    SqlChartsApi, SchedulersApi, TagsApi, ValidationApi,
):  # fmt: skip
    def routes(self) -> list[Route]:
        return [
            *self.organization_routes(),
            *self.project_routes(),
            *self.group_routes(),
            *self.attribute_routes(),
            *self.space_routes(),
            *self.chart_routes(),
            *self.dashboard_routes(),
            *self.sql_chart_routes(),
            *self.scheduler_routes(),
            *self.tag_routes(),
            *self.validation_routes(),
        ]
