"""The fake's models, their YAML and git settings, connections, user attributes: Omni's behaviour (DIGEST.md) for them, and their routes."""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp import web

from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.base import (
    ApiBase,
    ApiError,
    Route,
    checksum,
    keyset_page,
    ok,
    yaml_json,
)


class ModelsApi(ApiBase):
    def model_json(self, model: st.Model) -> dict[str, Any]:
        return {
            "id": model.id,
            "name": model.name,
            "modelKind": model.kind,
            "connectionId": model.connection_id,
            "baseModelId": model.base_model_id,
            "createdAt": model.created_at,
            "updatedAt": model.updated_at,
            "deletedAt": model.deleted_at,
        }

    async def list_models(self, request: web.Request) -> web.Response:
        q = request.query
        include_deleted = q.get("includeDeleted") in ("1", "true")
        models = [
            x
            for x in self.state.models.values()
            if (include_deleted or not x.deleted_at)
            and all(
                not q.get(param) or getattr(x, attr) == q[param]
                for param, attr in (
                    ("modelKind", "kind"),
                    ("connectionId", "connection_id"),
                    ("baseModelId", "base_model_id"),
                    ("name", "name"),
                    ("modelId", "id"),
                )
            )
        ]
        page, info = keyset_page(
            models, lambda x: [x.name or "", x.id], q, default_size=20, max_size=self.max_page_size
        )
        return ok({"pageInfo": info, "records": [self.model_json(x) for x in page]})

    async def model_yaml(self, request: web.Request) -> web.Response:
        """Two layers (DOC2): a shared model's own files over its schema model's (or, for an
        extension, over its base model's combined files). `combined`, the default, reads
        both; `extension` and `staged` read the model's own layer only. A write in
        `extension` mode sets or (empty) deletes an own file; in `combined` mode a non-empty
        file is copied into the own layer and an empty one is ignored."""
        model = self._model(request.match_info["modelId"])
        if request.method == "GET":
            mode = request.query.get("mode", "combined")
            files = self._combined(model) if mode in ("combined", "merged") else model.files
            return ok(yaml_json(files, model.version, request.query.get("includeChecksums")))
        body = await request.json()
        if model.kind == "SCHEMA":
            raise ApiError(400, "Schema models cannot be edited")
        if model.git_follower:
            raise ApiError(400, "Models in git follower mode cannot be edited")
        key = f"{body['fileName']}.yaml"
        extension = body.get("mode") == "extension"
        layer = model.files if extension else self._combined(model)
        previous = body.get("previousChecksum")
        if previous and previous != checksum(layer.get(key, "")):
            raise ApiError(409, "File has been modified since it was fetched")
        if body["yaml"]:
            model.files[key] = body["yaml"]
        elif extension:
            model.files.pop(key, None)
        model.version += 1
        model.updated_at = self.now()
        files = model.files if extension else self._combined(model)
        return ok(yaml_json(files, model.version, "true"))

    def _combined(self, model: st.Model) -> dict[str, str]:
        if model.kind == "SCHEMA":
            return dict(model.files)
        under = self.state.models.get(model.base_model_id or "") or next(
            (
                m
                for m in self.state.models.values()
                if m.kind == "SCHEMA" and m.connection_id == model.connection_id
            ),
            None,
        )
        return {**(self._combined(under) if under else {}), **model.files}

    async def model_git(self, request: web.Request) -> web.Response:
        model = self._model(request.match_info["modelId"])
        if not model.git_follower:
            raise ApiError(404, "Git is not configured for this model")
        return ok(
            {
                "authMethod": "ssh",
                "baseBranch": "main",
                "branchPerPullRequest": False,
                "cloneUrl": f"git@example.com:acme/{model.name}.git",
                "gitFollower": True,
                "gitServiceProvider": "github",
                "modelPath": None,
                "publicKey": None,
                "requirePullRequest": "never",
                "sshUrl": f"git@example.com:acme/{model.name}.git",
                "webUrl": None,
                "webhookUrl": f"{self.base_url}/webhooks/git/{model.id}",
            }
        )

    async def validate_model(self, request: web.Request) -> web.Response:
        self._model(request.match_info["modelId"])
        return ok({"valid": True, "issues": []})

    async def content_validator(self, request: web.Request) -> web.Response:
        """Each live document on the model, with every field its queries name that the
        model's combined views lack (the fake's guess of what Omni's validator checks)."""
        model = self._model(request.match_info["modelId"])
        mode = request.query.get("content_filter_mode", "ALL")
        defined = view_fields(self._combined(model))
        content = []
        for doc in self.state.documents.values():
            entry = None if doc.deleted or doc.model_id != model.id else validated(doc, defined)
            if entry is not None and mode in (
                "ALL",
                "WITH_ISSUES" if has_issues(entry) else "NO_ISSUES",
            ):
                content.append(entry)
        return ok({"model_id": model.id, "branch": None, "content": content})

    async def refresh_model(self, request: web.Request) -> web.Response:
        model = self._model(request.match_info["modelId"])
        job = st.new_uuid()
        self.state.jobs[job] = model.id
        return ok({"jobId": job, "modelId": model.id, "status": "running"})

    async def job_status(self, request: web.Request) -> web.Response:
        job = request.match_info["jobId"]
        if job not in self.state.jobs:
            raise ApiError(404, f"Job {job} not found")
        return ok({"job_id": job, "job_type": "REFRESH_SCHEMA", "status": "COMPLETED"})

    async def list_connections(self, request: web.Request) -> web.Response:
        q = request.query
        conns = [
            c
            for c in self.state.connections.values()
            if (not q.get("name") or q["name"].lower() in c.name.lower())
            and (not q.get("dialect") or c.dialect == q["dialect"])
        ]
        return ok(
            {
                "connections": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "dialect": c.dialect,
                        "database": c.database,
                        "defaultSchema": c.default_schema,
                        "baseRole": c.base_role,
                        "deletedAt": None,
                        "branchConnectionEnvironmentOverridesUserAttr": None,
                        "environmentConnectionSwitchesSchemaModel": None,
                        "userAttributeNameForConnectionsEnvironments": None,
                        "userAttributeValuesForDefaultEnvironment": [],
                    }
                    for c in sorted(conns, key=lambda c: c.name)
                ]
            }
        )

    def model_routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v1/models", self.list_models),
            Route("GET", "/api/v1/models/{modelId}/git", self.model_git),
            Route("GET", "/api/v1/models/{modelId}/validate", self.validate_model),
            Route("GET", "/api/v1/models/{modelId}/content-validator", self.content_validator),
            Route("POST", "/api/v1/models/{modelId}/refresh", self.refresh_model),
            Route("GET", "/api/v1/jobs/{jobId}/status", self.job_status),
            Route("GET", "/api/v1/connections", self.list_connections),
            *[
                Route(m, "/api/v1/models/{modelId}/yaml", self.model_yaml, "current")
                for m in ("GET", "POST")
            ],
            *[
                Route(m, "/api/unstable/models/{modelId}/yaml", self.model_yaml, "seed")
                for m in ("GET", "POST")
            ],
        ]


def view_fields(files: dict[str, str]) -> set[str]:
    """`view.field` for every dimension and measure of the views in a model's YAML files."""
    fields = set()
    for name, text in files.items():
        base = name.rsplit("/", 1)[-1]
        if not (base.endswith(".view.yaml") or name.startswith("views/")):
            continue
        view = base.removesuffix(".yaml").removesuffix(".view")
        data = yaml.safe_load(text) or {}
        for part in ("dimensions", "measures"):
            fields |= {f"{view}.{f}" for f in (data.get(part) or {})}
    return fields


def validated(doc: st.Document, defined: set[str]) -> dict[str, Any] | None:
    """The older spec's content item for a document with queries (None: it has none)."""
    queries = doc.export.get("queryModels") or {}
    if not queries:
        return None
    names = {
        q["queryIdentifierMapKey"]: q["name"]
        for q in (doc.export.get("dashboard") or {}).get("queries", [])
    }
    return {
        "document_id": doc.id,
        "identifier": doc.identifier,
        "name": doc.name,
        "queries_and_issues": [
            {
                "query_name": names.get(key, key),
                "query_id_map_key": key,
                "issues": [
                    f"Field '{f}' not found in model"
                    for f in q.get("fields", [])
                    if f not in defined
                ],
            }
            for key, q in sorted(queries.items())
        ],
        # the generated dashboards' filters name fields no generated view defines: the
        # fake checks queries only (a guess; Omni's filter checks are not documented)
        "dashboard_filter_issues": [],
    }


def has_issues(entry: dict[str, Any]) -> bool:
    return any(q["issues"] for q in entry["queries_and_issues"])
