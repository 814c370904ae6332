"""The fake Lightdash's project validation: a run (validator.py) started as a job, the job's
status, and the project's latest results."""

from __future__ import annotations

from aiohttp import web

from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.base import PROJECT, ApiBase, Route, not_found, ok
from omnimigrate.platforms.lightdash.fake.validator import TARGETS, Validator


class ValidationApi(ApiBase):
    async def validate(self, request: web.Request) -> web.Response:
        """The validation runs at once; its job reports `started` for `validation_polls`
        status reads, then `completed`."""
        project = self.project(request)
        body = await request.json()
        targets = [t for t in body.get("validationTargets") or TARGETS if t in TARGETS]
        project.validation = Validator(self.state, self.modern).run(project, targets)
        job = st.new_uuid()
        self.state.jobs[job] = self.validation_polls
        return ok({"jobId": job})

    async def validation_job(self, request: web.Request) -> web.Response:
        job = request.match_info["jobId"]
        if job not in self.state.jobs:
            raise not_found("Job")
        status = "started" if self.state.jobs[job] > 0 else "completed"
        self.state.jobs[job] -= 1
        return ok({"status": status, "details": {}})

    async def validation_results(self, request: web.Request) -> web.Response:
        """The project's latest validation (a `jobId` is not read: Lightdash keeps a job's
        own results only for its CLI's runs)."""
        return ok(self.project(request).validation)

    def validation_routes(self) -> list[Route]:
        return [
            Route("POST", PROJECT + "/validate", self.validate),
            Route("GET", PROJECT + "/validate", self.validation_results),
            Route("GET", "/api/v1/schedulers/job/{jobId}/status", self.validation_job),
        ]
