"""Scale benchmark: the suite's scale tests, assertions and all, at larger document counts.

    python bench/scale.py [--documents 300 1000]

The suite runs its scale tests at 150 documents (past one page of the document list). Here the
same tests run at each `--documents` count, one pytest process per count, with the count
handed over in `OMNIMIGRATE_SCALE_DOCUMENTS`: a backup that captures every object and then
exports only what changed, a restore into other ids that verifies 100 % and re-runs with zero
writes, and a migrate compared field by field in both response shapes. Figures printed: pass
or fail and wall seconds per test at each count.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALE_TESTS = [
    "tests/test_backup.py::test_backup_captures_every_object_then_exports_only_what_changed",
    "tests/test_restore.py::test_restore_at_scale_into_other_ids_verifies_100_percent_and_reruns_write_nothing",
    "tests/test_fidelity.py::test_a_migrate_at_scale_is_faithful_in_both_response_shapes",
]


def run_at(documents: int) -> list[tuple[str, str, float]]:
    """(test, outcome, seconds) for each scale test at `documents` documents."""
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "junit.xml"
        env = {**os.environ, "OMNIMIGRATE_SCALE_DOCUMENTS": str(documents)}
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"--junitxml={report}", *SCALE_TESTS],
            cwd=ROOT, env=env, check=False,
        )  # fmt: skip
        return [outcome(case) for case in ET.parse(report).iter("testcase")]


def outcome(case: ET.Element) -> tuple[str, str, float]:
    failed = case.find("failure") is not None or case.find("error") is not None
    return case.get("name", "?"), "FAILED" if failed else "passed", float(case.get("time", 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, nargs="+", default=[300, 1000])
    args = parser.parse_args()
    failures = 0
    rows = [(n, *row) for n in args.documents for row in run_at(n)]
    print(f"\n{'documents':>9}  {'seconds':>8}  outcome  test")
    for documents, name, result, seconds in rows:
        print(f"{documents:>9}  {seconds:>8.1f}  {result:<7}  {name}")
        failures += result != "passed"
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
