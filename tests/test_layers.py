"""The import graph of omnimigrate/, read with `ast` (every import: the lazy ones inside a
function and those under TYPE_CHECKING too, since a circle that only laziness keeps from
failing is still a circle), and the engine's ignorance of every platform's types.

The layers, from the ground up; a module imports only from its own layer or below:

  0. omnimigrate, errors, hints, logging   what everything may use
  1. snapshot, http                        the store and the wire
  2. engine                                platform-agnostic: jobs, plans, the restore
                                           protocol, the handler protocol and its registry
  3. fakes                                 what every platform's fake shares
  4. platforms.omni, platforms.lightdash   one package each: client, fake, handlers, registry
  5. platforms                             the platforms registered with the engine by name
  6. config                                instances, stores and settings from the file
  7. service                               the long-running worker, its events and sinks
  8. cli, __main__                         the commands
"""

from __future__ import annotations

import ast
from pathlib import Path

from omnimigrate.platforms.lightdash.registry import REGISTRY as LIGHTDASH
from omnimigrate.platforms.omni.registry import REGISTRY as OMNI

ROOT = Path(__file__).resolve().parent.parent / "omnimigrate"

LAYERS: list[tuple[str, ...]] = [
    ("omnimigrate", "omnimigrate.errors", "omnimigrate.hints", "omnimigrate.logging"),
    ("omnimigrate.snapshot", "omnimigrate.http"),
    ("omnimigrate.engine",),
    ("omnimigrate.fakes",),
    ("omnimigrate.platforms.omni", "omnimigrate.platforms.lightdash"),
    ("omnimigrate.platforms",),
    ("omnimigrate.config",),
    ("omnimigrate.service",),
    ("omnimigrate.cli", "omnimigrate.__main__"),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the omnimigrate modules it imports (a name imported from a package is the
    submodule when there is one, else the package)."""
    mods = modules()

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {m for a in node.names if (m := known(a.name))}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                for a in node.names:
                    target = f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                    if found := known(target):
                        deps.add(found)
        edges[name] = deps - {name}
    return edges


def layer(module: str) -> int:
    """The layer of the longest prefix that names the module's package."""
    best, depth = -1, -1
    for n, names in enumerate(LAYERS):
        for prefix in names:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = n, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_reads_every_kind_of_import() -> None:
    edges = graph()
    # a plain import, a relative-free `from`, a lazy one and one under TYPE_CHECKING
    assert "omnimigrate.engine.plan" in edges["omnimigrate.engine.protocol"]
    assert "omnimigrate.platforms.omni.platform" in edges["omnimigrate.platforms"]  # lazy
    # under TYPE_CHECKING
    assert "omnimigrate.platforms.omni.applying" in edges["omnimigrate.platforms.omni.handler"]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle() -> None:
    assert circles(graph()) == []


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    up = [
        f"{a} -> {b}"
        for a, deps in sorted(graph().items())
        for b in sorted(deps)
        if layer(b) > layer(a)
    ]
    assert up == []


def test_a_platform_never_imports_another() -> None:
    platforms = LAYERS[4]
    crossing = [
        f"{a} -> {b}"
        for a, deps in sorted(graph().items())
        for b in sorted(deps)
        for p in platforms
        for q in platforms
        if p != q and a.startswith(p + ".") and (b == q or b.startswith(q + "."))
    ]
    assert crossing == []


def handler_kinds() -> set[str]:
    """Every kind a platform's handlers declare: their action kinds, job kinds, action-id
    object kinds, selectors, and the snapshot entry types they keep or select as content."""
    kinds: set[str] = set()
    for registry in (OMNI, LIGHTDASH):
        kinds |= set(registry.actions) | set(registry.jobs) | set(registry.selectors)
        kinds |= set(registry.keeps) | set(registry.content)
        for h in registry.handlers:
            kinds |= set(h.ids)
            kinds |= {e.cause for e in h.side_effects} | {e.reconcile for e in h.side_effects}
    return kinds


def engine_strings() -> dict[str, set[str]]:
    """Every string the engine's code holds, by file: its constants and the literal parts of
    its f-strings. Docstrings are prose for the reader (an example id, `folder:sales/q1`),
    not what the code compares or builds, and are left out."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found[path.name] = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
        }
    return found


def test_no_handler_kind_is_named_in_the_engine() -> None:
    kinds = handler_kinds()
    assert {"label.create", "folders", "ld.space", "ld_chart", "chart", "document"} <= kinds
    named = {
        f"{name}: {kind}"
        for name, strings in engine_strings().items()
        for s in strings
        for kind in kinds
        if kind in _words(s)
    }
    assert named == set()


def _words(text: str) -> set[str]:
    """The kind-shaped words of a string: runs of letters, digits, `_` and `.`, with the
    prose's trailing dot dropped, and each `KIND:` prefix of an id."""
    words = set()
    for raw in text.replace("`", " ").replace("(", " ").replace(")", " ").split():
        word = raw.strip(",;'\"").rstrip(".")
        words |= {word, word.split(":", 1)[0]}
    return words


ABOVE_THE_ENGINE = ("omnimigrate.fakes", "omnimigrate.platforms", "omnimigrate.config",
                    "omnimigrate.service", "omnimigrate.cli")  # fmt: skip


def test_the_engine_imports_no_platform_nor_anything_above_it() -> None:
    """Every module of the engine, the pre-flight frame among them: a platform comes in only
    through `engine/platform.py`'s registry, by name."""
    edges = graph()
    engine = [m for m in edges if m == "omnimigrate.engine" or m.startswith("omnimigrate.engine.")]
    assert {"omnimigrate.engine.preflight", "omnimigrate.engine.platform"} <= set(engine)
    up = {
        f"{a} -> {b}"
        for a in engine
        for b in edges[a]
        if any(b == p or b.startswith(p + ".") for p in ABOVE_THE_ENGINE)
    }
    assert up == set()


def platform_options() -> set[str]:
    """The restore and verify options a platform declares beyond every platform's."""
    from omnimigrate.engine.plan import RestoreOptions
    from omnimigrate.engine.verify import VerifyOptions
    from omnimigrate.platforms import PLATFORMS, platform_named

    own: set[str] = set()
    for name in PLATFORMS:
        platform = platform_named(name)
        own |= set(platform.options_type.model_fields) - set(RestoreOptions.model_fields)
        own |= set(platform.verify_options_type.model_fields) - set(VerifyOptions.model_fields)
    return own


def test_the_engine_names_no_platform_nor_a_platforms_own_option() -> None:
    """What verify expects after a restore follows from the platform's typed options (by
    name, `VerifyOptions.of_restore`), so the engine spells none of them out."""
    own = platform_options()
    assert {"models", "pause_schedules", "documents", "trashed"} <= own
    named = {
        f"{name}: {word}"
        for name, strings in engine_strings().items()
        for s in strings
        for word in _words(s)
        if word in own or word.lower() in ("omni", "lightdash")
    }
    assert named == set()
