"""Refresh docs/screenshots/ from the browser tests' artifacts.

    python docs/screenshots/refresh.py          # run the web app browser tests, then copy
    python docs/screenshots/refresh.py --copy   # only copy what test-artifacts/webapp/ holds now

The tests save one PNG per main page under test-artifacts/webapp/ (failure shots are named failed-*
and never copied). Needs Debian chromium and the dev extra (see docs/webapp.md).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "test-artifacts" / "webapp"
TARGET = ROOT / "docs" / "screenshots"
TESTS = ["tests/e2e/test_webapp.py", "tests/e2e/test_webapp_call.py", "tests/e2e/test_webapp_paper_cuts.py",
         "tests/e2e/test_webapp_enrolment.py", "tests/e2e/test_webapp_time_zones.py"]


def main(argv: list[str]) -> int:
    if "--copy" not in argv:
        shutil.rmtree(SOURCE, ignore_errors=True)
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],  # noqa: S603 - fixed argv
                              cwd=ROOT,
                              check=False)
        if done.returncode != 0:
            print("browser tests failed: screenshots not refreshed", file=sys.stderr)
            return done.returncode
    shots = sorted(p for p in SOURCE.glob("*.png") if not p.name.startswith(("failed-", "smoke-")))
    if not shots:
        print(f"no screenshots in {SOURCE}", file=sys.stderr)
        return 1
    for old in TARGET.glob("*.png"):
        old.unlink()
    for shot in shots:
        shutil.copy2(shot, TARGET / shot.name)
    print(f"{len(shots)} screenshots copied to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
