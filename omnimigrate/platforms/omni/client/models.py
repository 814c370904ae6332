"""Omni's models, their YAML and git settings, and connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from omnimigrate.errors import NotFound
from omnimigrate.platforms.omni import api_objects as m
from omnimigrate.platforms.omni.client.base import (
    MODEL_YAML,
    MODEL_YAML_SEED,
    ClientBase,
)


class ModelsEndpoints(ClientBase):
    def list_models(self, **filters: Any) -> AsyncIterator[m.Model]:
        """GET /models (filters: modelKind, connectionId, baseModelId, name)."""
        return self._cursor("/api/v1/models", m.Model, **filters)

    async def get_model_yaml(
        self, model_id: str, *, mode: str = "combined", include_checksums: bool = False
    ) -> m.ModelYaml:
        params = {"mode": mode, "includeChecksums": include_checksums or None}
        path = {"modelId": model_id}
        return await self._with_seed_fallback(
            self._yaml_route,
            lambda: self._get(MODEL_YAML, m.ModelYaml, path=path, params=params),
            lambda: self._get(MODEL_YAML_SEED, m.ModelYaml, path=path, params=params),
        )

    async def put_model_yaml(
        self,
        model_id: str,
        file_name: str,
        yaml: str,
        *,
        mode: str = "combined",
        commit_message: str | None = None,
        previous_checksum: str | None = None,
    ) -> dict[str, Any]:
        """Create or overwrite one YAML file (`model`, `relationships`, `x.view`, `x.topic`)."""
        body = {"fileName": file_name, "yaml": yaml, "mode": mode}
        body.update(
            {
                k: v
                for k, v in {
                    "commitMessage": commit_message,
                    "previousChecksum": previous_checksum,
                }.items()
                if v
            }
        )
        path = {"modelId": model_id}

        async def post(route: str) -> dict[str, Any]:
            reply = await self._call("POST", route, path=path, json=body, idempotent=True)
            return reply.body

        return await self._with_seed_fallback(
            self._yaml_route, lambda: post(MODEL_YAML), lambda: post(MODEL_YAML_SEED)
        )

    async def model_git(self, model_id: str) -> m.GitConfig | None:
        """Git settings, or None when git is not configured (404)."""
        try:
            return await self._get(
                "/api/v1/models/{modelId}/git", m.GitConfig, path={"modelId": model_id}
            )
        except NotFound:
            return None

    async def content_validator(self, model_id: str) -> dict[str, Any]:
        """The documents on a model whose queries have issues (`content_filter_mode=
        WITH_ISSUES`); the official spec leaves the items untyped, so the caller reads them."""
        reply = await self._call(
            "GET",
            "/api/v1/models/{modelId}/content-validator",
            path={"modelId": model_id},
            params={"content_filter_mode": "WITH_ISSUES"},
        )
        return reply.body

    async def list_connections(self, **filters: Any) -> list[m.Connection]:
        reply = await self._call("GET", "/api/v1/connections", params=filters)
        return [m.Connection.model_validate(c) for c in reply.body.get("connections", [])]
