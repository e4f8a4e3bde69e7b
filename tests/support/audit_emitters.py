"""Static walk of the code for every audit action it can emit.

An emitter is a call that hands an action to the ledger: `AuditEntry(action=...)`, an `Auditor`
(`runtime.auditor(actor, action, ...)`, `self.audit(...)`), `record_access_or_fail(action=...)`. A
function that passes one of its own parameters on as the action (`_audit`, `_case`, `_ledger`,
`_transition`, ...) becomes an emitter itself, with the same template; its callers are walked in
turn until nothing new turns up. So a new wrapper, or a new call of an old one, is found without
anyone listing it here. A private wrapper (its name starts with `_`) is matched only in the module that
defines it: two modules' `_audit` helpers may take the action at different positions, and reading one's
calls with the other's signature would take a target for an action.

An action is resolved to a string. A part that cannot be known statically (a value from a request,
a database row) becomes `*`: `f"report.transition.{data.to}"` gives `report.transition.*`, which the
catalogue must declare as a template with its complete list of values.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_PARAM = "\x00"  # marks a parameter of the enclosing function inside a partly resolved action


@dataclass(frozen=True)
class Spec:
    """Calls of `name` emit `template` with `{}` replaced by the argument at `index` / keyword `keyword`."""

    name: str
    index: int | None
    keyword: str
    template: str = "{}"
    default: str | None = None  # what a call that leaves the argument out emits (the parameter's default)
    module: str | None = None  # a private wrapper (`_audit`): only calls in the module defining it


SEEDS = (
    Spec("AuditEntry", None, "action"),
    Spec("auditor", 1, "action"),
    Spec("audit", 1, "action"),
    Spec("Auditor", None, "action"),
    Spec("record_access_or_fail", None, "action"),
)


@dataclass(frozen=True)
class Site:
    action: str  # the resolved action, `*` where a part is only known at run time
    path: str
    line: int


@dataclass
class Walk:
    sites: list[Site] = field(default_factory=list)
    specs: set[Spec] = field(default_factory=set)

    @property
    def actions(self) -> set[str]:
        return {s.action for s in self.sites}


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    if args and args[0] in ("self", "cls"):
        args = args[1:]
    return args


def _all_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return set(_params(fn)) | {a.arg for a in fn.args.kwonlyargs}


def _default(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> str | None:
    positional = [*fn.args.posonlyargs, *fn.args.args]
    pairs = list(zip(positional[len(positional) - len(fn.args.defaults):], fn.args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True) if d is not None]
    for arg, value in pairs:
        if arg.arg == name and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` constants."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node.value.value
    return out


def _resolve(expr: ast.expr, params: set[str], consts: dict[str, str]) -> list[str]:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.JoinedStr):
        out = [""]
        for part in expr.values:
            options = _resolve(part.value, params, consts) if isinstance(part, ast.FormattedValue) \
                else _resolve(part, params, consts)
            out = [a + b for a in out for b in options]
        return out
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return [a + b for a in _resolve(expr.left, params, consts) for b in _resolve(expr.right, params, consts)]
    if isinstance(expr, ast.IfExp):
        return _resolve(expr.body, params, consts) + _resolve(expr.orelse, params, consts)
    if isinstance(expr, ast.Name):
        if expr.id in params:
            return [f"{_PARAM}{expr.id}{_PARAM}"]
        if expr.id in consts:
            return [consts[expr.id]]
    return ["*"]


def _argument(call: ast.Call, spec: Spec) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == spec.keyword:
            return kw.value
    if spec.index is not None and len(call.args) > spec.index and not isinstance(call.args[spec.index], ast.Starred):
        return call.args[spec.index]
    return None


class _Functions(ast.NodeVisitor):
    """Each call with the function (if any) that encloses it."""

    def __init__(self) -> None:
        self.stack: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.calls: list[tuple[ast.Call, ast.FunctionDef | ast.AsyncFunctionDef | None]] = []

    def _fn(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = _fn
    visit_AsyncFunctionDef = _fn

    def visit_Call(self, node: ast.Call) -> None:
        self.calls.append((node, self.stack[-1] if self.stack else None))
        self.generic_visit(node)


def _modules(roots: list[Path], base: Path) -> Iterator[tuple[str, ast.Module]]:
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            yield str(path.relative_to(base)), ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def walk(roots: list[Path], base: Path) -> Walk:
    parsed = []
    for rel, tree in _modules(roots, base):
        visitor = _Functions()
        visitor.visit(tree)
        parsed.append((rel, _module_strings(tree), visitor.calls))
    result = Walk(specs=set(SEEDS))
    pending = list(SEEDS)
    seen_sites: set[Site] = set()
    while pending:
        spec = pending.pop()
        for rel, consts, calls in parsed:
            if spec.module is not None and spec.module != rel:
                continue
            for call, fn in calls:
                if _call_name(call) != spec.name:
                    continue
                arg = _argument(call, spec)
                params = _all_params(fn) if fn is not None else set()
                if arg is None and spec.default is None:
                    continue
                values = _resolve(arg, params, consts) if arg is not None else [spec.default or ""]
                for value in values:
                    action = spec.template.replace("{}", value)
                    if _PARAM in action and fn is not None:
                        name = action.split(_PARAM)[1]
                        positional = _params(fn)
                        template = action.replace(f"{_PARAM}{name}{_PARAM}", "{}").replace(_PARAM, "")
                        new = Spec(fn.name, positional.index(name) if name in positional else None, name, template,
                                   _default(fn, name), rel if fn.name.startswith("_") else None)
                        if new not in result.specs:
                            result.specs.add(new)
                            pending.append(new)
                        continue
                    site = Site(action.replace(_PARAM, ""), rel, call.lineno)
                    if site not in seen_sites:
                        seen_sites.add(site)
                        result.sites.append(site)
    return result
