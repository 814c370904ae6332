"""Platforms omnimigrate backs up and restores, each a package on the engine: `omni` and
`lightdash`. Each is registered with the engine here, by the name an instance's
configuration, a manifest or a saved plan gives; a new platform is a sibling package and
one `register` line. Python runs this module before any module of a platform package, so
whoever holds a platform's client or snapshot finds every platform known."""

from __future__ import annotations

from omnimigrate.engine.platform import (
    Platform,
    UnknownPlatform,
    platform_named,
    platform_names,
    register,
)


def _omni() -> Platform:
    # imported when first asked for: a platform package imports the engine
    from omnimigrate.platforms.omni.platform import OMNI

    return OMNI


def _lightdash() -> Platform:
    from omnimigrate.platforms.lightdash.platform import LIGHTDASH

    return LIGHTDASH


register("omni", _omni)
register("lightdash", _lightdash)
PLATFORMS = platform_names()

__all__ = ["PLATFORMS", "UnknownPlatform", "platform_named"]
