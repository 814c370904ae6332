"""Which folders a backup covers: `--include`/`--exclude` folder-path globs."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase


def ancestors(path: str) -> list[str]:
    """`a/b/c` -> [`a`, `a/b`, `a/b/c`]; the root folder is ``."""
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))] or [""]


def _matches(path: str, pattern: str) -> bool:
    """A glob; `a/**` also names the folder `a` itself (what is in it, and it)."""
    return fnmatchcase(path, pattern) or (pattern.endswith("/**") and path == pattern[:-3])


@dataclass(frozen=True)
class PathFilter:
    """A path is in scope if it, or a folder above it, matches an include (or there are no
    includes) and neither it nor a folder above it matches an exclude."""

    include: tuple[str, ...] = field(default_factory=tuple)
    exclude: tuple[str, ...] = field(default_factory=tuple)

    def _hit(self, patterns: tuple[str, ...], path: str) -> bool:
        return any(_matches(p, pat.strip("/")) for p in ancestors(path) for pat in patterns)

    def __call__(self, path: str | None) -> bool:
        path = path or ""
        if self.include and not self._hit(self.include, path):
            return False
        return not self._hit(self.exclude, path)
