"""The errors every layer raises, importing nothing of omnimigrate's: the ground floor.

    ConfigError                    a configuration or usage problem (exit 2)
    ApiError                       every failure talking to a platform's API (Omni, Lightdash)
    ├── TransportError             no usable HTTP response (DNS, refused, reset, timeout)
    └── ApiStatusError             the server answered with a status >= 400, or a body we cannot read
        ├── AuthError              401 / 403: wrong token, wrong key type, missing permission
        ├── NotFound               404
        ├── Conflict               409
        └── RateLimited            429 that outlasted the retry budget

The names are the platform's neither: a platform's client gives its hints (`hint_for` is
Omni's, every client's default) and the transport names the platform where it guesses.
Every message is one line that says what happened and what to do. Tokens never appear:
the clients only ever pass route templates and the server's own `detail` here.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, with what is wrong and how to fix it."""


class ApiError(Exception):
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


class TransportError(ApiError):
    """No HTTP response: connection refused, DNS failure, reset, or timeout.

    `maybe_applied` is true when the request may have reached the server (a reset or timeout
    after sending): a non-idempotent write must then be looked up, not resent.
    """

    def __init__(self, message: str, *, maybe_applied: bool = False, **kw: str) -> None:
        self.maybe_applied = maybe_applied
        super().__init__(message, **kw)


class ApiStatusError(ApiError):
    """The server answered with an error status (or a body that is not the JSON it promises)."""

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


class AuthError(ApiStatusError):
    """401 or 403."""


class NotFound(ApiStatusError):
    """404."""


class Conflict(ApiStatusError):
    """409: the object already exists or changed since it was read."""


class RateLimited(ApiStatusError):
    """429 still returned after every retry."""


_BY_STATUS: dict[int, type[ApiStatusError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}

# Export/import, SCIM and email-only writes need an organization key (DIGEST G3).
ORG_KEY_ROUTES = ("/api/unstable/documents", "/api/scim/", "/api/v1/users/email-only")


def hint_for(status: int, route: str) -> str:
    """What the operator should do about an error status on an Omni route (Lightdash's
    client has hints of its own, and borrows only the 429 one, which names no platform)."""
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
) -> ApiStatusError:
    cls = _BY_STATUS.get(status, ApiStatusError)
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
