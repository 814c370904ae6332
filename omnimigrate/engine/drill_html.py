"""`drill.html`: the drill's evidence for people. Rendered by Jinja2 with autoescaping (every
name in it comes from an instance), self-contained (inline CSS and SVG, no script, nothing
fetched), and laid out to print to PDF."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from omnimigrate import __version__
from omnimigrate.engine.drill import RTO_TOLERANCE, DrillReport


def duration(seconds: float) -> str:
    """A duration as people read it: 42.1 s, 3 min 05 s, 2 h 07 min, 3 d 04 h."""
    s = max(0.0, seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    if s < 86400:
        return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
    return f"{int(s // 86400)} d {int(s % 86400 // 3600):02d} h"


def render_drill(report: DrillReport) -> str:
    env = Environment(
        loader=PackageLoader("omnimigrate", "templates"),
        autoescape=select_autoescape(["j2", "html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("drill.html.j2")
    return template.render(
        r=report, version=__version__, duration=duration, tolerance=round(RTO_TOLERANCE * 100)
    )
