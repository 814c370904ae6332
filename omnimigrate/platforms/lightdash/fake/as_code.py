"""Lightdash's content as code, as charts, dashboards and SQL charts share it: a download
is paged by offset, by slug, with the spaces its items sit in; an upload finds its item by
slug within the project and its space by code path, creating a missing space unless
`skipSpaceCreate`, and answers what it changed ("no changes" to an identical upload)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import ApiBase, LightdashError, ok


class AsCodeApi(ApiBase):
    def space_by_code_path(self, project: st.Project, path: str) -> st.Space | None:
        return next(
            (s for s in project.spaces.values() if self.code_path(project, s) == path), None
        )

    def code_page(
        self, request: web.Request, items: list[Any], ids_of: Callable[[Any], set[str]]
    ) -> tuple[list[Any], int, int, list[str]]:
        wanted = request.query.getall("ids", [])
        missing = [i for i in wanted if not any(i in ids_of(x) for x in items)]
        if wanted:
            items = [x for x in items if ids_of(x) & set(wanted)]
        offset = int(float(request.query.get("offset", 0)))
        if offset < 0:
            raise LightdashError(400, "ParameterError", f"offset must be >= 0, received {offset}")
        page = items[offset : offset + self.code_page_size]
        # 1.219 answers the next page's offset; 0.1471 the one asked (a guess the README lists)
        answered = min(offset + self.code_page_size, len(items)) if self.modern else offset
        return page, answered, len(items), missing

    def code_spaces(self, project: st.Project, items: list[Any]) -> list[dict[str, Any]]:
        spaces = {i.space: project.spaces[i.space] for i in items}
        return [{"contentType": "space", "spaceName": s.name, "slug": self.code_path(project, s)}
                for s in spaces.values()]  # fmt: skip

    def code_download(
        self, request: web.Request, project: st.Project, field: str, items: Iterable[Any],
        code: Callable[[Any], dict[str, Any]],
    ) -> web.Response:  # fmt: skip
        """One page of a download (of any kind), by slug, with their spaces."""
        ordered = sorted(items, key=lambda c: c.slug)
        page, offset, total, missing = self.code_page(request, ordered, lambda c: {c.uuid, c.slug})
        return ok({field: [code(c) for c in page], "offset": offset, "total": total,
                   "missingIds": missing, "spaces": self.code_spaces(project, page)})  # fmt: skip

    def space_for_upload(self, project: st.Project, body: dict[str, Any]) -> tuple[st.Space, bool]:
        space = self.space_by_code_path(project, body["spaceSlug"])
        if space is not None:
            return space, False
        if body.get("skipSpaceCreate"):
            raise LightdashError(
                404, "NotFoundError", f"Space with slug {body['spaceSlug']} not found"
            )
        space = st.Space(st.new_uuid(), body["spaceSlug"], body["spaceSlug"], False)
        project.spaces[space.uuid] = space
        return space, True

    def changes(
        self, project: st.Project, space: st.Space | None, created_space: bool, **items: Any
    ) -> dict[str, Any]:
        spaces = []
        if space is not None and created_space:
            summary = self.space_summary(project, space)
            spaces = [{"action": "create", "data": summary}]
        return {"charts": [], "dashboards": [], "spaces": spaces, **items}
