"""Errors raised by the Omni client.

    OmniError                      every failure talking to Omni
    ├── OmniTransportError         no usable HTTP response (DNS, refused, reset, timeout)
    └── OmniAPIError               Omni answered with a status >= 400, or a body we cannot read
        ├── OmniAuthError          401 / 403: wrong token, wrong key type, missing permission
        ├── OmniNotFound           404
        ├── OmniConflict           409
        └── OmniRateLimited        429 that outlasted the retry budget

Every message is one line that says what happened and what to do. Tokens never appear:
the client only ever passes route templates and Omni's own `detail` here.
"""

from __future__ import annotations


class OmniError(Exception):
    """Base class: `str(err)` is a one-line, actionable message."""

    def __init__(self, message: str, *, method: str = "", route: str = "", hint: str = "") -> None:
        self.method = method
        self.route = route
        self.hint = hint
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.route}: " if self.route else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class OmniTransportError(OmniError):
    """No HTTP response: connection refused, DNS failure, reset, or timeout.

    `maybe_applied` is true when the request may have reached Omni (a reset or timeout
    after sending): a non-idempotent write must then be looked up, not resent.
    """

    def __init__(self, message: str, *, maybe_applied: bool = False, **kw: str) -> None:
        self.maybe_applied = maybe_applied
        super().__init__(message, **kw)


class OmniAPIError(OmniError):
    """Omni answered with an error status (or a body that is not the JSON it promises)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        method: str = "",
        route: str = "",
        hint: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"HTTP {status}: {detail}", method=method, route=route, hint=hint)


class OmniAuthError(OmniAPIError):
    """401 or 403."""


class OmniNotFound(OmniAPIError):
    """404."""


class OmniConflict(OmniAPIError):
    """409: the object already exists or changed since it was read."""


class OmniRateLimited(OmniAPIError):
    """429 still returned after every retry."""


_BY_STATUS: dict[int, type[OmniAPIError]] = {
    401: OmniAuthError,
    403: OmniAuthError,
    404: OmniNotFound,
    409: OmniConflict,
    429: OmniRateLimited,
}

# Export/import, SCIM and email-only writes need an organization key (DIGEST G3).
ORG_KEY_ROUTES = ("/api/unstable/documents", "/api/scim/", "/api/v1/users/email-only")


def hint_for(status: int, route: str) -> str:
    """What the operator should do about an error status on a route."""
    if status == 401:
        return "the token is missing, expired or revoked: create a new API key in Omni > Settings > API keys"
    if status == 403:
        if route.startswith(ORG_KEY_ROUTES):
            return (
                "this endpoint needs an organization API key, not a personal access token: "
                "create one in Omni > Settings > API keys as an Organization Admin"
            )
        return "the key's user lacks permission for this object: use an organization API key or grant Manager"
    if status == 404:
        return "the object does not exist on this instance (check the id, or that the instance URL is right)"
    if status == 409:
        return "the object already exists or changed since it was read"
    if status == 429:
        return "rate limit exceeded after all retries: lower --rate-limit or add API keys"
    if status >= 500:
        return "Omni had a server error; retry later"
    return ""


def api_error(
    status: int,
    detail: str,
    *,
    method: str,
    route: str,
    retry_after: float | None = None,
    hint: str | None = None,
) -> OmniAPIError:
    cls = _BY_STATUS.get(status, OmniAPIError)
    return cls(
        status,
        detail,
        method=method,
        route=route,
        hint=hint_for(status, route) if hint is None else hint,
        retry_after=retry_after,
    )


def detail_of(body: object) -> str:
    """Omni's error text lives in `detail`, `error` or `message` depending on the endpoint;
    Lightdash's in `{"error": {"name", "message"}}`."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        name, message = error.get("name"), error.get("message")
        return ": ".join(str(p) for p in (name, message) if p)
    if isinstance(body, dict):
        for key in ("detail", "error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return ""
