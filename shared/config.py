"""Typed settings read from prefixed environment variables.

Each service declares a frozen dataclass whose fields carry a one-line help text in their metadata
(`setting(default, "help")`). `load_settings(cls, prefix, environ)` reads `PREFIX_FIELD` for every
field, converts it to the annotated type, and raises `ConfigError` naming the variable on bad input.
A variable `PREFIX_FIELD_FILE` is read from that file instead (secrets mounted as files).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """A configuration variable is missing or malformed; the message names it."""


def setting(default: Any = dataclasses.MISSING, help: str = "", *, secret: bool = False) -> Any:
    """A dataclass field with the help text shown in the configuration tables."""
    metadata = {"help": help, "secret": secret}
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple for sequence defaults")
    return dataclasses.field(default=default, metadata=metadata)


def env_name(prefix: str, field: dataclasses.Field[Any]) -> str:
    return f"{prefix}_{field.name.upper()}"


def _convert(name: str, raw: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if raw == "":
            return None
        return _convert(name, raw, non_none[0])
    if origin is tuple:
        inner = args[0] if args else str
        return tuple(_convert(name, part.strip(), inner) for part in raw.split(",") if part.strip())
    if annotation is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{name}: expected true/false, got {raw!r}")
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if annotation is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if annotation is Path:
        return Path(raw)
    if annotation is str:
        return raw
    raise TypeError(f"unsupported settings type {annotation!r} for {name}")


def load_settings(cls: type[T], prefix: str, environ: Mapping[str, str]) -> T:
    """Build `cls` from `environ`; unknown fields keep their defaults."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.init:
            continue
        name = env_name(prefix, field)
        raw: str | None = environ.get(name)
        file_var = f"{name}_FILE"
        if raw is None and environ.get(file_var):
            try:
                raw = Path(environ[file_var]).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{file_var}: cannot read {environ[file_var]!r} ({exc.strerror})") from None
        if raw is None:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{name}: required but not set")
            continue
        values[field.name] = _convert(name, raw, hints[field.name])
    try:
        settings = cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix}: {exc}") from None
    return settings


def describe(cls: type[Any], prefix: str) -> list[tuple[str, str, str]]:
    """(variable, default, help) for every field: the source of the configuration tables."""
    rows = []
    for field in dataclasses.fields(cls):
        if field.default is dataclasses.MISSING:
            default = "(required)"
        elif isinstance(field.default, tuple):
            default = ",".join(str(v) for v in field.default)
        elif field.default is None:
            default = "(unset)"
        else:
            default = str(field.default)
        rows.append((env_name(prefix, field), default, field.metadata.get("help", "")))
    return rows


def check(condition: bool, variable: str, message: str) -> None:
    """Validation helper for `__post_init__`: raise ConfigError naming `variable`."""
    if not condition:
        raise ConfigError(f"{variable}: {message}")
