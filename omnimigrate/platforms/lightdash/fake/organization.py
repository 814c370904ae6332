"""The fake Lightdash's organization: its health, the caller, and its users."""

from __future__ import annotations

from aiohttp import web

from omnimigrate.platforms.lightdash.fake.base import USER_KEY, ApiBase, Route, ok

HEALTH = "/api/v1/health"  # public, and in neither spec


class OrganizationApi(ApiBase):
    async def health(self, request: web.Request) -> web.Response:
        return ok({"healthy": True, "version": self.version, "mode": "default",
                   "isAuthenticated": True, "requiresOrgRegistration": False})  # fmt: skip

    async def me(self, request: web.Request) -> web.Response:
        user = self.state.users[request[USER_KEY]]
        return ok({
            **self.member(user),
            "organizationUuid": self.state.org_uuid,
            "organizationName": self.state.org_name,
            "role": user.role,
            "isTrackingAnonymized": False,
            "isMarketingOptedIn": False,
            "isSetupComplete": True,
            "createdAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2025-01-01T00:00:00Z",
            "isActive": True,
            "userId": 1, "timezone": None, "impersonation": None,  # 1.219 requires them
        })  # fmt: skip

    async def org_users(self, request: web.Request) -> web.Response:
        users = [
            {**self.member(u), "organizationUuid": self.state.org_uuid, "role": u.role,
             "isActive": True, "userCreatedAt": "2025-01-01T00:00:00Z",
             "userUpdatedAt": "2025-01-01T00:00:00Z"}
            for u in sorted(self.state.users.values(), key=lambda u: u.email)
        ]  # fmt: skip
        return ok(self.paged(request, users))

    def organization_routes(self) -> list[Route]:
        return [
            Route("GET", HEALTH, self.health),
            Route("GET", "/api/v1/user", self.me),
            Route("GET", "/api/v1/org/users", self.org_users),
        ]
