"""Restore and verify options are typed per platform: an Omni-only option given for a
Lightdash run is a usage error naming the option and the platform, before any request; the
commands take them as typed values, never `**kw`; a saved plan of an older format is refused
naming the format."""

from __future__ import annotations

import inspect
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import ValidationError

from omnimigrate.cli import with_commands
from omnimigrate.engine.plan import PLAN_FORMAT, RestoreOptions
from omnimigrate.engine.restore import options_for
from omnimigrate.errors import ConfigError
from omnimigrate.platforms import platform_named
from omnimigrate.platforms.lightdash.options import LightdashRestoreOptions, LightdashVerifyOptions
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from tests.test_cli import run

OMNI_ONLY = [(["--models"], "Lightdash's models come from dbt"),
            (["--trashed", "new"], "a deleted Lightdash space comes back by --include"),
            (["--include-deleted"], "Lightdash downloads have no trash"),
            (["--pause-schedules"], "not supported for Lightdash yet"),
            (["--create-missing-users"], "Lightdash's API cannot create users: invite them in Lightdash")]  # fmt: skip


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A port that listens and never answers: a request to it would be a pending connection."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", sock


@pytest.mark.parametrize("flag,why", OMNI_ONLY)
def test_an_omni_only_option_for_lightdash_is_a_usage_error_before_any_request(
    flag: list[str], why: str, listener: tuple[str, socket.socket], tmp_path: Path
) -> None:
    url, sock = listener
    done = run("plan", "--store", str(tmp_path), "--target", url, "--platform", "lightdash",
               *flag, env={"LIGHTDASH_API_KEY": "t0ken"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: {flag[0]} is not an option of a Lightdash restore (Omni only: {why}): remove it "
        "(see `omnimigrate plan --help`)"
    ]
    with pytest.raises(BlockingIOError):
        sock.accept()  # nothing connected


VERIFY_OMNI_ONLY = [(["--models"], "Lightdash's models come from dbt"),
                   (["--document", "d-1"], "a Lightdash verify compares whole projects: choose one with --project"),
                   (["--pause-schedules"], "not supported for Lightdash yet")]  # fmt: skip


@pytest.mark.parametrize("flag,why", VERIFY_OMNI_ONLY)
def test_verify_refuses_an_omni_only_option_for_lightdash(
    flag: list[str], why: str, listener: tuple[str, socket.socket], tmp_path: Path
) -> None:
    """Verify's options are typed per platform as a restore's are: Lightdash's verify is
    never handed Omni's --models, --document or --pause-schedules."""
    url, sock = listener
    done = run("verify", "--store", str(tmp_path), "--against", url, "--platform", "lightdash",
               *flag, env={"LIGHTDASH_API_KEY": "t0ken"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: {flag[0]} is not an option of a Lightdash verify (Omni only: {why}): remove "
        "it (see `omnimigrate verify --help`)"
    ]
    with pytest.raises(BlockingIOError):
        sock.accept()


@pytest.mark.parametrize("command", ["restore", "drill", "migrate"])
def test_every_command_that_restores_refuses_an_omni_only_option_for_lightdash(
    command: str, listener: tuple[str, socket.socket], tmp_path: Path
) -> None:
    """Refused before the --model-map file is even read (this one is not YAML)."""
    url, sock = listener
    source = ["--source", url] if command == "migrate" else []
    not_yaml = tmp_path / "models.yaml"
    not_yaml.write_text('"""not: [a mapping')
    done = run(command, *source, "--store", str(tmp_path), "--target", url,
               "--platform", "lightdash", "--model-map", str(not_yaml),
               env={"LIGHTDASH_API_KEY": "t0ken"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "error: --model-map is not an option of a Lightdash restore (Omni only: Lightdash has "
        f"no Omni models to map): remove it (see `omnimigrate {command} --help`)"
    )
    with pytest.raises(BlockingIOError):
        sock.accept()


def test_no_command_takes_its_options_untyped() -> None:
    """Every command's parameters are named and typed (the target's, the restore's and
    verify's options as one typed value each), none gathered as `**kw`."""
    commands = [c for c in with_commands().commands.values() if c.callback]
    groups = [g for g in with_commands().commands.values() if isinstance(g, click.Group)]
    commands += [c for g in groups for c in g.commands.values() if c.callback]
    assert {"restore", "plan", "verify", "migrate", "drill"} <= {c.name for c in commands}
    untyped = {}
    for command in commands:
        params = inspect.signature(inspect.unwrap(command.callback)).parameters.values()
        untyped[command.name] = [p.name for p in params if p.kind is p.VAR_KEYWORD
                                 or p.annotation is inspect.Parameter.empty]  # fmt: skip
    assert {name: found for name, found in untyped.items() if found} == {}


def test_each_platform_types_its_own_options() -> None:
    lightdash, omni = platform_named("lightdash"), platform_named("omni")
    assert lightdash.options_type is LightdashRestoreOptions
    assert omni.options_type is OmniRestoreOptions
    with pytest.raises(ValidationError, match="models"):
        LightdashRestoreOptions.model_validate({"models": True})
    shared = RestoreOptions(include=["Finance/**"], on_conflict="overwrite")
    assert options_for(lightdash, shared) == LightdashRestoreOptions(
        include=["Finance/**"], on_conflict="overwrite"
    )
    assert options_for(omni, shared).trashed == "same-else-new"  # Omni's own defaults
    with pytest.raises(ConfigError, match=r"model_map, models: not an option of a lightdash"):
        options_for(lightdash, OmniRestoreOptions(models=True, model_map={"a": "b"}))
    # the defaults of Omni's own options pass: only what was set is another platform's
    assert options_for(lightdash, OmniRestoreOptions()) == LightdashRestoreOptions()


def test_each_platform_types_its_own_verify_options() -> None:
    lightdash, omni = platform_named("lightdash"), platform_named("omni")
    assert lightdash.verify_options_type is LightdashVerifyOptions
    assert omni.verify_options_type is OmniVerifyOptions
    for option in ("models", "documents", "pause_schedules"):
        with pytest.raises(ValidationError, match=option):
            LightdashVerifyOptions.model_validate({option: True})
    # what a restore makes its verify expect (a drill's): its options of the same name
    restored = OmniRestoreOptions(models=True, pause_schedules=True, include=["Sales/**"])
    assert OmniVerifyOptions.of_restore(restored) == OmniVerifyOptions(
        models=True, pause_schedules=True
    )
    assert OmniVerifyOptions.of_restore(RestoreOptions()) == OmniVerifyOptions()
    ld = LightdashRestoreOptions(include=["Finance/**"], create_missing_groups=True)
    assert LightdashVerifyOptions.of_restore(ld) == LightdashVerifyOptions()


def test_a_saved_plan_of_the_old_format_is_refused_naming_it(tmp_path: Path) -> None:
    old = tmp_path / "plan.json"
    old.write_text(json.dumps({"format": 1, "platform": "omni", "options": {"models": True}}))
    done = run("restore", "--store", str(tmp_path), "--plan", str(old), "--target",
               "https://acme.omniapp.co", env={"OMNI_TARGET_TOKEN": "t0ken"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"plan of format 1, and this omnimigrate reads format {PLAN_FORMAT}" in done.stderr
    assert "make it again with `omnimigrate plan" in done.stderr
