"""The README's test command is the one `.ci/run` runs, word for word."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("run the whole suite (this is what `.ci/run` executes):", 1)[1]
    command = block.split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
    assert "mypy" in command and "-n auto" in command and "--durations" in command
