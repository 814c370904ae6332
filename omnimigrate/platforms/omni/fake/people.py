"""The fake's email-only users and model roles: Omni's behaviour (DIGEST.md) for them, and their routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.base import (
    ApiBase,
    ApiError,
    Route,
    keyset_page,
    ok,
)


class PeopleApi(ApiBase):
    async def email_only(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            q = request.query
            users = [
                u
                for u in self.state.email_only.values()
                if not q.get("email") or u.email == q["email"]
            ]
            page, info = keyset_page(
                users,
                lambda u: [u.email],
                q,
                default_size=20,
                max_size=20,
                descending=q.get("sortDirection", "desc") == "desc",
            )
            return ok(
                {
                    "pageInfo": info,
                    "records": [
                        {"email": u.email, "user_id": u.user_id, "user_attributes": u.attributes}
                        for u in page
                    ],
                }
            )
        self._require_org_key(request)
        body = await request.json()
        if request.path.endswith("/bulk"):
            if len(body["users"]) > 20:
                raise ApiError(400, "At most 20 users per request")
            results = [self._upsert_email_only(u) for u in body["users"]]
            return ok({"results": results}, status=201)
        return ok(self._upsert_email_only(body))

    def _upsert_email_only(self, body: dict[str, Any]) -> dict[str, str]:
        email = body["email"]
        user = next(
            (u for u in self.state.email_only.values() if u.email.lower() == email.lower()), None
        )
        if user is None:
            user = st.EmailOnlyUser(email=email)
            self.state.email_only[user.user_id] = user
        user.attributes.update(body.get("userAttributes") or {})
        return {"email": user.email, "userId": user.user_id}

    async def model_roles(self, request: web.Request) -> web.Response:
        is_group = "/user-groups/" in request.path
        pid = request.match_info["id"]
        name = self._group(pid).name if is_group else self._user(pid).display_name
        kind = "group" if is_group else "user"
        id_key = "userGroupId" if is_group else "membershipId"
        if request.method == "POST":
            body = await request.json()
            model = self._model(body["modelId"]) if body.get("modelId") else None
            if model and model.kind not in ("SHARED", "SHARED_EXTENSION"):
                raise ApiError(
                    400, "Only shared and shared_extension models can be assigned model roles"
                )
            conn = body.get("connectionId") or (model.connection_id if model else None)
            if not conn:
                raise ApiError(400, "modelId or connectionId is required")
            self.state.model_roles = [
                r
                for r in self.state.model_roles
                if not (
                    r.principal_type == kind
                    and r.principal_id == pid
                    and r.model_id == (model.id if model else None)
                    and r.connection_id == conn
                )
            ]
            self.state.model_roles.append(
                st.ModelRole(
                    principal_type=kind,
                    principal_id=pid,
                    role_name=body["roleName"],
                    model_id=model.id if model else None,
                    connection_id=conn,
                )
            )
            return ok(
                {
                    id_key: pid,
                    "modelId": model.id if model else self._any_model(conn),
                    "connectionId": conn,
                    "roleName": body["roleName"],
                }
            )
        q = request.query
        roles = [
            r
            for r in self.state.model_roles
            if r.principal_type == kind
            and r.principal_id == pid
            and (not q.get("modelId") or r.model_id == q["modelId"])
            and (not q.get("connectionId") or r.connection_id == q["connectionId"])
        ]
        origin = (
            {"type": "GROUP", "depth": 0, "miniUuid": pid, "name": name}
            if is_group
            else {"type": "USER"}
        )
        results = [
            {
                "modelId": r.model_id or self._any_model(r.connection_id),
                "connectionId": r.connection_id,
                "roleName": r.role_name,
                "baseRole": "VIEWER",
                "priority": 1,
                "from": origin,
                **({} if is_group else {"resolved": True}),
            }
            for r in roles
        ]
        if not is_group:  # groups' roles reach their members, as Omni's resolution shows them
            for r in self.state.model_roles:
                group = self.state.groups.get(r.principal_id)
                if r.principal_type == "group" and group and pid in group.member_ids:
                    results.append(
                        {
                            "modelId": r.model_id or self._any_model(r.connection_id),
                            "connectionId": r.connection_id,
                            "roleName": r.role_name,
                            "baseRole": "VIEWER",
                            "priority": 2,
                            "resolved": False,
                            "from": {
                                "type": "GROUP",
                                "depth": 0,
                                "miniUuid": group.id,
                                "name": group.name,
                            },
                        }
                    )
        return ok({id_key: pid, "results": results})

    def _any_model(self, connection_id: str | None) -> str:
        return next(
            (m.id for m in self.state.models.values() if m.connection_id == connection_id),
            st.new_uuid(),
        )

    def people_routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v1/users/email-only", self.email_only),
            Route("POST", "/api/v1/users/email-only", self.email_only),
            Route("POST", "/api/v1/users/email-only/bulk", self.email_only),
            *[
                Route(m, "/api/v1/users/{id}/model-roles", self.model_roles)
                for m in ("GET", "POST")
            ],
            *[
                Route(m, "/api/v1/user-groups/{id}/model-roles", self.model_roles)
                for m in ("GET", "POST")
            ],
        ]
