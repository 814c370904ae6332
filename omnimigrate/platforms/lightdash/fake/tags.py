"""The fake Lightdash's project tags, as a real 1.219 keeps them: a name (two tags of a
project may share one: that server took a second "probe" beside the first), a color, and a
`yamlReference` for those the dbt project's YAML defines (its
`lightdash.config.yml` spotlight categories), which `PUT …/tags/yaml` replaces all at once:
a listed reference the project has is updated (name, color), one it lacks is created, and
the project's YAML tags the list leaves out are deleted; tags made in the app stay."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import (
    PROJECT,
    USER_KEY,
    ApiBase,
    Route,
    not_found,
    ok,
)

TAG = PROJECT + "/tags/{tagUuid}"


class TagsApi(ApiBase):
    def tag_json(self, project: st.Project, tag: st.Tag) -> dict[str, Any]:
        creator = self.user(tag.created_by)  # nullable in both specs; the fake always has one
        return {"tagUuid": tag.uuid, "projectUuid": project.uuid, "name": tag.name,
                "color": tag.color, "yamlReference": tag.yaml_reference,
                "createdAt": tag.created_at,
                "createdBy": {"userUuid": creator.uuid, "firstName": creator.first_name,
                              "lastName": creator.last_name}}  # fmt: skip

    def add_tag(
        self, request: web.Request, project: st.Project, name: str, color: str, yaml: str | None
    ) -> st.Tag:
        tag = st.Tag(st.new_uuid(), name, color, request[USER_KEY], yaml, self.state.now())
        project.tags[tag.uuid] = tag
        return tag

    async def list_tags(self, request: web.Request) -> web.Response:
        project = self.project(request)
        return ok([self.tag_json(project, t) for t in project.tags.values()])

    async def create_tag(self, request: web.Request) -> web.Response:
        project, body = self.project(request), await request.json()
        tag = self.add_tag(request, project, body["name"], body["color"], None)
        return ok({"tagUuid": tag.uuid}, status=201)

    async def tag(self, request: web.Request) -> web.Response:
        project = self.project(request)
        tag = project.tags.get(request.match_info["tagUuid"])
        if tag is None:
            raise not_found("Tag")
        if request.method == "DELETE":
            del project.tags[tag.uuid]
            return web.Response(status=204)  # no content, as HTTP has it (DeleteSpace too)
        body = await request.json()
        tag.name, tag.color = body.get("name", tag.name), body.get("color", tag.color)
        return ok()

    async def replace_yaml_tags(self, request: web.Request) -> web.Response:
        project, listed = self.project(request), await request.json()
        wanted = {t["yamlReference"]: t for t in listed}
        for tag in list(project.tags.values()):
            if tag.yaml_reference is not None and tag.yaml_reference not in wanted:
                del project.tags[tag.uuid]
        have = {t.yaml_reference: t for t in project.tags.values() if t.yaml_reference}
        for ref, body in wanted.items():
            if ref in have:
                have[ref].name, have[ref].color = body["name"], body["color"]
            else:
                self.add_tag(request, project, body["name"], body["color"], ref)
        return ok()

    def tag_routes(self) -> list[Route]:
        return [
            Route("GET", PROJECT + "/tags", self.list_tags),
            Route("POST", PROJECT + "/tags", self.create_tag),
            Route("PATCH", TAG, self.tag),
            Route("DELETE", TAG, self.tag),
            Route("PUT", PROJECT + "/tags/yaml", self.replace_yaml_tags),
        ]
