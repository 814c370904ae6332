"""The README's by-hand runbooks, run as written: the commands are read from the README's
text, the fakes started as a person starts them (each keeps running; the next command waits
for its ready line), the rest run in one shell, as typed into a third terminal."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = str(Path(sys.executable).parent)  # where `omnimigrate` is installed


def blocks(heading: str) -> list[list[str]]:
    """The ```sh blocks of a README section, each as its command lines."""
    text = README.read_text()
    start = text.index(f"### {heading}\n")
    end = text.find("\n### ", start + 1)
    section = text[start : end if end > 0 else len(text)]
    found = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [[line for line in block.splitlines() if line.strip()] for block in found]


def start_fakes(lines: list[str], cwd: Path, env: dict[str, str]) -> list[subprocess.Popen]:
    procs = []
    for line in lines:
        proc = subprocess.Popen(shlex.split(line), cwd=cwd, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        procs.append(proc)
        ready = proc.stdout.readline()  # type: ignore[union-attr]
        assert "Ctrl-C to stop" in ready, (line, ready, proc.stderr.read())  # type: ignore[union-attr]
    return procs


def run_typed(lines: list[str], cwd: Path, env: dict[str, str]) -> list[tuple[str, int, str]]:
    """Each line in one shell, as typed: (line, exit code, what it printed)."""
    script = "".join(
        f"echo '::begin'\n{line}\necho \"::rc $?\"\n" for line in lines
    )  # each line as written, then its exit code
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, text=True, capture_output=True, timeout=600
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    parts = done.stdout.split("::begin\n")[1:]
    results = []
    for line, part in zip(lines, parts, strict=True):
        out, rc = part.rsplit("::rc ", 1)
        results.append((line, int(rc), out))
    return results


@pytest.fixture
def person(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNI_", "OMNIMIGRATE_"))}
    env |= {"PATH": f"{BIN}:{env.get('PATH', '')}", "COLUMNS": "200",
            "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    procs: list[subprocess.Popen] = []
    yield tmp_path, env, procs
    for proc in procs:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize(
    ("heading", "codes"),
    [
        # the restore exits 3, as the README says: what the fake refuses to export is blocked
        ("Trying it by hand: two fake Omni instances", {"omnimigrate restore": 3}),
        ("Trying it by hand: two fake Lightdash instances", {}),
    ],
)
@pytest.mark.slow
def test_a_by_hand_runbook_runs_as_the_readme_gives_it(person, heading, codes):
    cwd, env, procs = person
    fakes, typed = blocks(heading)
    assert all(line.startswith("omnimigrate fake serve") for line in fakes)
    assert any("--standby" in line for line in fakes)
    procs += start_fakes(fakes, cwd, env)
    started = time.monotonic()
    results = run_typed(typed, cwd, env)
    for line, rc, out in results:
        want = next((c for prefix, c in codes.items() if line.startswith(prefix)), 0)
        assert rc == want, (line, rc, out[-2000:])
    printed = {line.split()[1]: out for line, _, out in results if line.startswith("omnimigrate")}
    assert "complete" in printed["backup"]
    assert "100.0 %" in printed["verify"] and "%" in printed["verify"]
    # plan --out's hint is the README's own restore line, with the URL the variable holds
    hint = re.search(r"apply exactly this plan with `(.+)`", printed["plan"])
    assert hint, printed["plan"]
    restore_line = next(line for line in typed if line.startswith("omnimigrate restore"))
    var = re.search(r'--target "\$(\w+_URL)"', restore_line)[1]  # type: ignore[index]
    url = next(line for line in (cwd / fakes_file(fakes)).read_text().splitlines()
               if line.startswith(f"export {var}=")).split("=", 1)[1]  # fmt: skip
    assert shlex.split(hint[1]) == shlex.split(restore_line.replace(f'"${var}"', url))
    assert time.monotonic() - started < 120


def fakes_file(fakes: list[str]) -> str:
    return "fake-lightdash.env" if "--platform lightdash" in fakes[0] else "fake-omni.env"
