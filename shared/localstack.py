"""The local stack that `tandem run` started, as it wrote it down, so that the operator commands act on
it without the operator copying variables by hand.

`tandem run` derives every service's variables (ports, URLs, the Redis URL, S3 endpoint and
credentials, database and keyring paths) and, once the stack is ready, writes them to
`<var dir>/stack.json` (owner-only: it holds the S3 secret), removing it when it stops. An operator
command reads its settings from the environment first, then from that file for every variable the
environment does not set, then the defaults; and it says on stderr which stack it acts on.

The file is looked for in `$TANDEM_VAR_DIR`, else in `var/` of the working directory or of any folder
above it up to the project's root (the folder with pyproject.toml or .git), else in `var/` of the
checkout this code runs from (so a command typed in another folder still finds the stack `make run`
started). A service process never reads it: only commands do.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "stack.json"
VERSION = 1
CHECKOUT_VAR = Path(__file__).resolve().parents[1] / "var"


class StackFileError(Exception):
    """The stack file exists but cannot be read as one."""


@dataclass(frozen=True)
class LocalStack:
    path: Path
    pid: int
    gateway_url: str
    environ: Mapping[str, str]

    @property
    def var_dir(self) -> Path:
        return self.path.parent

    def running(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process of that pid: not ours to judge, say running
            return True
        return True

    def describe(self) -> str:
        state = "" if self.running() else "; that `tandem run` is no longer running"
        return f"the local stack in {self.var_dir} (gateway {self.gateway_url}, tandem run pid {self.pid}{state})"


def write(var_dir: Path, *, pid: int, gateway_url: str, environ: Mapping[str, str]) -> Path:
    """Write the stack file atomically, readable by its owner only."""
    path = var_dir / FILE_NAME
    doc = {"version": VERSION, "pid": pid, "gateway_url": gateway_url, "environ": dict(sorted(environ.items()))}
    fd, tmp = tempfile.mkstemp(prefix=".stack-", dir=var_dir)  # created 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove(var_dir: Path, *, pid: int) -> None:
    """Remove the stack file if this process wrote it (a second run's file is left alone)."""
    path = var_dir / FILE_NAME
    try:
        if read(path).pid == pid:
            path.unlink()
    except (OSError, StackFileError):
        pass


def read(path: Path) -> LocalStack:
    try:
        doc = json.loads(path.read_text())
        if doc.get("version") != VERSION:
            raise StackFileError(f"{path}: written by another version of tandem run (start it again)")
        environ = {str(k): str(v) for k, v in doc["environ"].items()}
        return LocalStack(path=path, pid=int(doc["pid"]), gateway_url=str(doc["gateway_url"]), environ=environ)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StackFileError(f"{path}: not a stack file ({type(exc).__name__})") from None


def candidates(environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where the stack file is looked for, in order."""
    if environ.get("TANDEM_VAR_DIR"):
        return [Path(environ["TANDEM_VAR_DIR"]).resolve() / FILE_NAME]
    here = cwd.resolve()
    found = []
    for folder in (here, *here.parents):  # up to the project's root (never the system's /var)
        found.append(folder / "var" / FILE_NAME)
        if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
            break
    else:
        found = [here / "var" / FILE_NAME]
    return [*found, CHECKOUT_VAR / FILE_NAME]


def find(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> LocalStack | None:
    environ = os.environ if environ is None else environ
    for path in candidates(environ, cwd or Path.cwd()):
        if path.is_file():
            return read(path)
    return None


def command_environ(prefix: str, environ: Mapping[str, str] | None = None,
                    cwd: Path | None = None) -> tuple[dict[str, str], str]:
    """The variables an operator command of the service with `prefix` reads its settings from, and a line
    saying where they come from: the environment, over the local stack's variables when there is one."""
    environ = dict(os.environ if environ is None else environ)
    own = sorted(k for k in environ if k.startswith(prefix + "_"))
    stack = find(environ, cwd)
    if stack is None:
        source = f"{', '.join(own)} from the environment" if own else "defaults"
        return environ, f"no local stack found ({FILE_NAME} of `tandem run`); settings: {source}"
    overridden = [k for k in own if k in stack.environ and stack.environ[k] != environ[k]]
    note = f" ({', '.join(overridden)} from the environment)" if overridden else ""
    return {**stack.environ, **environ}, f"acting on {stack.describe()}{note}"
