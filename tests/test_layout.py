"""The suite's own shape: helpers in tests/support/, fixtures and hooks in conftest.py, known-answer vectors
in tests/vectors/. A test module imports helpers from tests/support/, never from a conftest or another
test module."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(TESTS.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def imported(tree: ast.Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno


def is_fixture(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in func.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "fixture":
            return True
    return False


def test_no_module_imports_from_a_conftest_or_a_test_module() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                 for path, tree in modules() for module, line in imported(tree)
                 if module.startswith("tests.") and re.search(r"(^|\.)(conftest|test_[^.]*)$", module)]
    assert offenders == []


def test_conftests_hold_fixtures_and_hooks_only() -> None:
    offenders = []
    for path, tree in modules():
        if path.name != "conftest.py":
            continue
        for node in tree.body:
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(node, ast.ClassDef):
                offenders.append(f"{where} class {node.name}")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not (
                    is_fixture(node) or node.name.startswith("pytest_")):
                offenders.append(f"{where} def {node.name}")
    assert offenders == []


def test_known_answer_vectors_live_in_one_place() -> None:
    vectors = TESTS / "vectors"
    elsewhere = [str(p.relative_to(ROOT)) for p in TESTS.rglob("*.json") if vectors not in p.parents]
    assert elsewhere == []
    read = " ".join(path.read_text(encoding="utf-8") for path, _ in modules())
    unread = [p.name for p in sorted(vectors.glob("*.json")) if f'vectors.load("{p.stem}")' not in read]
    assert unread == []
