"""The service template (docs/architecture.md), held against the code of all four services.

Each rule fails for the whole class, not one instance: every file, every import, every service."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("gateway", "records", "reports", "sessions")
MAX_LINES = 400
ROOT_FILES = ("app.py", "config.py", "context.py", "cli.py")
ROOT_FOLDERS = ("adapters", "migrations")


def python_files(*tops: str) -> Iterator[Path]:
    for top in tops:
        yield from sorted((ROOT / top).rglob("*.py"))


def source_files() -> Iterator[Path]:
    """Code of services/ and shared/, migrations aside (they are frozen history, written once)."""
    return (p for p in python_files("services", "shared") if "migrations" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, tree: ast.AST) -> Iterator[tuple[str, ast.stmt]]:
    """Every module an import statement in `tree` names, relative imports resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base, node
            for alias in node.names:  # `from services.x import feature` imports a module too
                yield f"{base}.{alias.name}", node


def unit_of(module: str, service: str) -> str | None:
    """The top-level folder or root module of `service` that `module` belongs to."""
    prefix = f"services.{service}."
    if not module.startswith(prefix):
        return None
    return module[len(prefix):].split(".")[0]


def test_no_file_over_the_limit() -> None:
    long = {str(p.relative_to(ROOT)): n for p in source_files()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_no_resources_looked_up_by_string() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in source_files() if "extras[" in p.read_text(encoding="utf-8")]
    assert offenders == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_template_files(service: str) -> None:
    base = ROOT / "services" / service
    missing = [name for name in ROOT_FILES if not (base / name).is_file()]
    missing += [name for name in ROOT_FOLDERS if not (base / name).is_dir()]
    assert missing == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_context_is_a_frozen_dataclass_handed_out_by_field(service: str) -> None:
    module = importlib.import_module(f"services.{service}.context")
    spec = module.CONTEXT
    assert dataclasses.is_dataclass(spec.type)
    assert spec.type.__dataclass_params__.frozen  # type: ignore[union-attr]
    assert set(spec.dependencies()) == {f.name for f in dataclasses.fields(spec.type)}


def _service_imports(service: str) -> Iterator[tuple[str, str, Path, ast.stmt]]:
    """(importing unit, imported unit, file, statement) for imports between units of one service."""
    for path in python_files(f"services/{service}"):
        if "migrations" in path.parts:
            continue
        here = unit_of(module_name(path), service)
        if here is None:  # the package's own __init__
            continue
        for target, node in imported_modules(path, ast.parse(path.read_text(encoding="utf-8"))):
            there = unit_of(target, service)
            if there is not None and there != here:
                yield here, there, path, node


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_folder_level_import_loop(service: str) -> None:
    edges = {(a, b) for a, b, _, _ in _service_imports(service)}
    assert _cycles(edges) == []


@pytest.mark.parametrize("service", SERVICES)
def test_data_flows_one_way(service: str) -> None:
    """Features never import the app, the context or the CLI (no bag object imported back), and
    adapters import no feature: app -> context -> feature -> adapter."""
    wiring = {"app", "context", "cli", "__main__"}
    wrong = sorted({f"{path.relative_to(ROOT)} imports {there}" for here, there, path, _ in _service_imports(service)
                    if (there in wiring and here not in wiring) or (here == "adapters" and there != "config")})
    assert wrong == []


def test_no_project_import_inside_a_function() -> None:
    """An import of Tandem's own code inside a function hides a loop; third-party imports may be lazy."""
    offenders = []
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for target, node in imported_modules(path, func):
                if target.split(".")[0] in {"services", "shared"}:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {target}")
    assert sorted(set(offenders)) == []


# A named tuple's documented methods start with an underscore so as not to clash with its fields.
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}
# Private names of another object that the code still reaches for, each with the reason no public API does it.
PRIVATE_ALLOWED = {
    # The logging HOWTO's "Optimization" section documents setting it (no caller lookup per record).
    "shared/logging.py": {"logging._srcfile"},
    # The same module's own class: `seal()` is StreamSealer's one-shot form.
    "shared/crypto/stream.py": {"sealer._update_parts"},
    # aiortc has no public way to ask a sender for a keyframe (aiortc/aiortc#58): the recorder asks with
    # the receiver's own PLI after a frame it could not mux.
    "services/sessions/recorder/recording.py": {"receiver._send_rtcp_pli"},
}


def test_no_private_name_of_a_library_reached_for() -> None:
    """`x._name` on anything but `self`/`cls` reaches into a library's (or another class's) private parts:
    use the public API (the MinIO SDK's presigned requests, say), or list it above with the reason."""
    found: dict[str, set[str]] = {}
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and node.attr not in NAMEDTUPLE_API
                    and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})):
                found.setdefault(str(path.relative_to(ROOT)), set()).add(ast.unparse(node))
    assert found == PRIVATE_ALLOWED
