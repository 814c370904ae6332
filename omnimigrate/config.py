"""Configuration: a YAML file, then `OMNIMIGRATE_*` environment variables, then command-line
flags, each overriding the one before.

Tokens are never written in the file: an instance names the environment variables that hold
its tokens (`token_env`), and several names mean several keys for the same instance.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from omnimigrate.engine.preflight import preflight as run_preflight
from omnimigrate.errors import ConfigError
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.http.sessions import SessionFactory
from omnimigrate.http.transport import normalize_base_url
from omnimigrate.platforms import PLATFORMS, platform_named
from omnimigrate.snapshot.manifest import instance_slug, key_segment
from omnimigrate.snapshot.retention import RetentionRules


class InstanceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    token_env: list[str] = Field(default_factory=list, min_length=1)
    rate_limit: int | None = Field(default=None, ge=1)
    # which platform the instance runs: omnimigrate started with Omni, so an instance that
    # does not say is Omni (documented in the README's configuration section)
    platform: str = "omni"
    # Lightdash: the project to back up or restore into, by uuid or name (default: every
    # project, each restored into the target's project of the same name)
    project: str | None = None

    @model_validator(mode="after")
    def _project_is_lightdash(self) -> InstanceConfig:
        if self.project is not None and self.platform != "lightdash":
            raise ValueError(
                f"project {self.project!r} is a Lightdash setting and this instance's platform "
                f"is {self.platform}: add `platform: lightdash`, or remove `project`"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _no_inline_tokens(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in ("token", "tokens", "api_key")):
            raise ValueError(
                "tokens are never read from the config file: put each token in an environment "
                "variable and list the variable names under token_env"
            )
        if isinstance(data, dict) and isinstance(data.get("token_env"), str):
            data = {**data, "token_env": [data["token_env"]]}
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return normalize_base_url(value)

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(f"platform {value!r} is not one of {', '.join(PLATFORMS)}")
        return value

    def client_pool(
        self, tokens: list[SecretStr], **limits: Any
    ) -> AbstractAsyncContextManager[list[Any]]:
        """Clients of this instance, one per key, from its platform."""
        scope = {"project": self.project} if self.platform == "lightdash" else {}
        return platform_named(self.platform).client_pool(self.url, tokens, **scope, **limits)

    def store_name(self) -> str:
        """The store's default name for it: its host, and a Lightdash project's name."""
        host = instance_slug(self.url)
        return f"{host}-{key_segment(self.project, 'project')}" if self.project else host

    def preflight(
        self, tokens: list[SecretStr], sessions: SessionFactory, timeout: float = 10.0
    ) -> None:
        """One request per key before anything is opened (raises InstanceUnusable)."""
        checks = platform_named(self.platform).checks(self.project)
        asyncio.run(run_preflight(checks, self.url, tokens, self.token_env, timeout, sessions))


class ReplicationRule(BaseModel):
    """On snapshot.completed of `source`, restore the snapshot into `target`."""

    model_config = ConfigDict(extra="forbid")

    source: str
    target: str
    options: dict[str, Any] = Field(default_factory=dict)  # restore options (on_conflict, …)


class RestoreTarget(BaseModel):
    """What a `restore.requested` event may ask of a restore into one instance. The safe
    options are always allowed; the two that can destroy or resurrect content only here."""

    model_config = ConfigDict(extra="forbid")

    allow_overwrite: bool = False  # on_conflict: overwrite
    allow_include_deleted: bool = False
    accept_blocked: list[str] = Field(
        default_factory=list,
        description="blocked action ids or globs that drills into this target acknowledge "
        "(served drills and `drill`; its --accept-blocked FILE adds to them)",
    )


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str = "memory"  # or an SQS queue URL
    sinks: list[str] = Field(default_factory=list)  # sqs:URL, sns:ARN, webhook:URL
    replication: list[ReplicationRule] = Field(default_factory=list)
    restore_targets: dict[str, RestoreTarget] = Field(
        default_factory=dict,
        description="instances events may restore into (replication targets are implied)",
    )
    workers: int = Field(default=1, ge=1, le=32)
    visibility_timeout: int = Field(default=120, ge=10)
    retry_seconds: float = Field(default=5.0, ge=0)
    host: str = Field(
        default="127.0.0.1", description="where serve listens; 0.0.0.0 in the container image"
    )
    metrics_port: int = Field(default=9090, ge=0, le=65535)  # /metrics, /healthz, /readyz
    events_port: int = Field(default=9091, ge=0, le=65535)  # POST /events, when a token is set
    events_token_env: str = Field(
        default="OMNIMIGRATE_EVENTS_TOKEN",
        description="the variable holding the bearer token of POST /events; unset: no /events",
    )
    pushgateway: str | None = None  # one-shot runs push their metrics here

    def restore_target(self, name: str) -> RestoreTarget | None:
        """What events may ask of a restore into `name`, or None if they may not restore
        there. A replication target allows what its rules' own options do."""
        if name in self.restore_targets:
            return self.restore_targets[name]
        rules = [r.options for r in self.replication if r.target == name]
        if not rules:
            return None
        return RestoreTarget(
            allow_overwrite=any(o.get("on_conflict") == "overwrite" for o in rules),
            allow_include_deleted=any(o.get("include_deleted") is True for o in rules),
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OMNIMIGRATE_", env_nested_delimiter="__", extra="forbid"
    )

    rate_limit: int = Field(default=60, ge=1, description="requests per rate_period per API key")
    rate_period: float = Field(default=60.0, gt=0, description="the rate limit's window (s)")
    rate_burst: int = Field(
        default=1, ge=1, description="requests a key may send early, beyond its even pace"
    )
    concurrency: int = Field(default=4, ge=1, le=64)
    timeout: float = Field(default=120.0, gt=0)
    store: str = "./omnimigrate-store"
    cache_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "omnimigrate"
        ),
        description="local checkpoint ledgers; a writable volume in a container",
    )
    lock_ttl: float = Field(default=300.0, gt=0, description="seconds a killed run's lock lasts")
    encryption_key_env: str = "OMNIMIGRATE_ENCRYPTION_KEY"  # the variable holding the key
    kms_key_id: str | None = None  # encrypt new stores with a KMS data key instead
    gc_grace_seconds: float = Field(default=6 * 3600, ge=0)
    retention: RetentionRules = Field(default_factory=RetentionRules)
    retry_attempts: int = Field(default=8, ge=1)
    retry_base_delay: float = Field(default=1.0, ge=0)
    retry_max_delay: float = Field(default=60.0, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    instances: dict[str, InstanceConfig] = Field(default_factory=dict)
    service: ServiceConfig = Field(default_factory=ServiceConfig)

    @model_validator(mode="after")
    def _service_names_instances(self) -> Settings:
        named = [*self.service.restore_targets]
        named += [n for rule in self.service.replication for n in (rule.source, rule.target)]
        unknown = sorted({n for n in named if n not in self.instances})
        if unknown:
            known = ", ".join(sorted(self.instances)) or "none"
            raise ValueError(
                f"service names {', '.join(map(repr, unknown))}, not an instance of this config "
                f"(known: {known}): add it under instances or fix the name"
            )
        return self

    def rate_limit_for(self, inst: InstanceConfig, flag: int | None = None) -> int:
        """Requests per period per key on `inst`: the command's --rate-limit, else the
        instance's `rate_limit`, else the settings' (written here only)."""
        return flag or inst.rate_limit or self.rate_limit

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.retry_attempts,
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("yaml_file"):
            sources.append(YamlConfigSettingsSource(settings_cls))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Settings from `config_file` (YAML), the environment and `flags` (None means unset)."""
    if config_file is not None:
        _check_yaml(config_file)

    class _FromFile(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": config_file})

    try:
        return _FromFile(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        where = f" in {config_file}" if config_file else ""
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise ConfigError(f"invalid configuration{where}: {problems}") from None


def _problem(error: Any) -> str:
    """One setting's problem, naming the environment variable it came from, if one did, and
    the setting meant when the key is unknown."""
    loc = [str(part) for part in error["loc"]]
    text = f"{'.'.join(loc) or 'config'}: {error['msg'].removeprefix('Value error, ')}"
    var = "OMNIMIGRATE_" + "__".join(loc).upper()
    if loc and var in os.environ:
        text += f" (from ${var}={os.environ[var]!r})"
    if error["type"] == "extra_forbidden" and len(loc) == 1:
        close = difflib.get_close_matches(loc[0], list(Settings.model_fields), n=1)
        text += f" (did you mean `{close[0]}`?)" if close else ""
    return text


def _check_yaml(path: Path) -> None:
    """The file is YAML holding a mapping, or the error names the file, the line and the fix."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist: check the --config path")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"config file {path} is not valid YAML{where}: fix it (see "
            "deploy/config.example.yaml for the shape)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} holds a YAML {type(data).__name__}, not a mapping of settings "
            "(store:, instances:, ...): see deploy/config.example.yaml"
        )


LIGHTDASH_TOKEN_ENV = "LIGHTDASH_API_KEY"  # what Lightdash's own CLI reads
LIGHTDASH_URL_ENV = "LIGHTDASH_URL"  # and the instance it talks to


def instance_arg(
    given: str | None, platform: str | None, flag: str, environ: Mapping[str, str] | None = None
) -> str:
    """The instance a command names: `flag`'s value, else for Lightdash $LIGHTDASH_URL (as
    Lightdash's own CLI reads it)."""
    environ = os.environ if environ is None else environ
    if given:
        return given
    if platform == "lightdash" and environ.get(LIGHTDASH_URL_ENV):
        return environ[LIGHTDASH_URL_ENV]
    if platform == "lightdash":
        raise ConfigError(
            f"no Lightdash instance given: pass {flag} URL, or export {LIGHTDASH_URL_ENV}=URL "
            "(as Lightdash's own CLI reads it)"
        )
    raise ConfigError(
        f"no instance given: pass {flag} with an instance URL or a name in the config file "
        f"(for Lightdash, --platform lightdash reads ${LIGHTDASH_URL_ENV} when {flag} is left out)"
    )


def resolve_tokens(
    names: list[str],
    environ: Mapping[str, str] | None = None,
    flag: str = "--source-token-env",
    platform: str = "omni",
) -> list[SecretStr]:
    """Read the tokens from the named environment variables; name what is missing, and the
    flag (`flag`) that names another."""
    environ = os.environ if environ is None else environ
    missing = [n for n in names if not environ.get(n)]
    if missing:
        state = "is set but empty" if missing[0] in environ else "is not set"
        what = "Lightdash token" if platform == "lightdash" else "Omni API token"
        raise ConfigError(
            f"environment variable {', '.join(missing)} {state}: export the {what} "
            f"in it (for example `export {missing[0]}=...`) or name another with {flag}"
        )
    return [SecretStr(environ[n]) for n in names]


def instance_for(
    settings: Settings,
    given: str | None,
    token_env: list[str],
    default_env: str,
    *,
    platform: str | None = None,
    project: str | None = None,
    flag: str = "--source",
) -> InstanceConfig:
    """An instance given on the command line (`flag`), by URL or by its name in the config
    file, else Lightdash's $LIGHTDASH_URL; `platform` and `project` (from --platform and
    --project) override the file's."""
    url_or_name = instance_arg(given, platform, flag)
    flags = {k: v for k, v in {"platform": platform, "project": project}.items() if v}
    if url_or_name in settings.instances:
        inst = settings.instances[url_or_name]
        changes = {**({"token_env": token_env} if token_env else {}), **flags}
        try:
            return InstanceConfig.model_validate({**inst.model_dump(), **changes})
        except ValidationError as exc:
            raise ConfigError(f"instance {url_or_name}: {exc.errors()[0]['msg']}") from None
    if not token_env and flags.get("platform") == "lightdash":
        default_env = LIGHTDASH_TOKEN_ENV  # Lightdash's convention, as its CLI
    try:
        return InstanceConfig(url=url_or_name, token_env=token_env or [default_env], **flags)
    except ValidationError as exc:
        if url_or_name.startswith(("http://", "https://")):
            raise ConfigError(f"{url_or_name}: {exc.errors()[0]['msg']}") from None
        known = ", ".join(sorted(settings.instances)) or "none configured"
        raise ConfigError(
            f"{url_or_name!r} is neither an http(s) instance URL nor an instance in the config "
            f"file (known: {known})"
        ) from exc
