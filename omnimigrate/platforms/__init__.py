"""Platforms omnimigrate backs up and restores, each a package on the engine: `omni` and `lightdash`.
A platform is found by the name an instance's configuration, a manifest or a saved plan
gives; each is a sibling package, added to `platform_named`."""

from __future__ import annotations

from omnimigrate.engine.platform import Platform

PLATFORMS = ("omni", "lightdash")


class UnknownPlatform(Exception):
    """A name that is not one of PLATFORMS."""


def platform_named(name: str) -> Platform:
    # imported here: a platform package imports the engine, which looks platforms up by name
    if name == "omni":
        from omnimigrate.platforms.omni.platform import OMNI

        return OMNI
    if name == "lightdash":
        from omnimigrate.platforms.lightdash.platform import LIGHTDASH

        return LIGHTDASH
    raise UnknownPlatform(
        f"platform {name!r} is not one this omnimigrate knows ({', '.join(PLATFORMS)}): "
        "upgrade omnimigrate, or correct the name"
    )
