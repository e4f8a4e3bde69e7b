"""Fixtures of the web app's browser modules (tests/e2e/test_webapp*.py): one stack and one Chromium per
module, the axe-core source, and screenshots of a module's open pages after a failure. A module that
needs a different stack (the call tests restart sessions with a recorder) defines its own `stack`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.webapp import Browser, RunningStack, axe_source, shot, start_stack


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The whole stack on free ports, under a temporary folder named after the module."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    yield from start_stack(tmp_path_factory.mktemp(name) / "var")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture(autouse=True)
def _screens_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a failed test that uses a `world` with open pages, every page is photographed
    (test-artifacts/webapp/failed-<test>-<who>.png)."""
    failed_before = request.session.testsfailed
    # Asked for before the test runs, so the world outlives this fixture's teardown.
    world = request.getfixturevalue("world") if "world" in request.fixturenames else None
    yield
    if request.session.testsfailed > failed_before:
        for who, page in getattr(world, "pages", {}).items():
            try:
                shot(page, f"failed-{request.node.name}-{who}")
            except Exception as exc:  # noqa: BLE001 - best effort after a failure
                print(f"no screenshot of {who}: {exc}")
