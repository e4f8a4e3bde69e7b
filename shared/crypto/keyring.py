"""LocalKeyring: the embedded KeyEncryptionKeyProvider, a JSON file of versioned 256-bit KEKs.

The file is created 0600 and only ever replaced atomically (temp file + fsync + os.replace), under
an advisory lock so the CLI (`tandem keys rotate`) and running services can share it. Every call
re-reads the file when it changed on disk, so a rotation by another process is seen at once.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.crypto.envelope import KekVersion, WrappedKey, unwrap_data_key, wrap_data_key
from shared.crypto.errors import DecryptionError, KeyringError
from shared.crypto.format import RandomSource
from shared.crypto.primitives import KEY_SIZE
from shared.logging import get_logger

FILE_FORMAT = "tandem-keyring/1"
_log = get_logger("shared.crypto")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Version:
    version: int
    created_at: datetime
    retired: bool
    key: bytes


@dataclass
class _State:
    primary: int
    versions: dict[int, _Version]


class LocalKeyring:
    """KEKs in a local JSON file (mode 0600). Opens `path`, or creates it with version 1 as primary."""

    def __init__(
        self,
        path: Path,
        *,
        rng: RandomSource = os.urandom,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._path = Path(path)
        self._rng = rng
        self._clock = clock
        self._mutex = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._state = _State(0, {})
        with self._mutex, self._exclusive():
            if not os.path.lexists(self._path):
                self._write(_State(1, {1: self._new_version(1)}))
            self._load()

    @property
    def path(self) -> Path:
        return self._path

    # --- KeyEncryptionKeyProvider ------------------------------------------------------------

    def primary_version(self) -> int:
        return self._current().primary

    def versions(self) -> list[KekVersion]:
        state = self._current()
        def state_of(v: _Version) -> str:
            return "retired" if v.retired else "primary" if v.version == state.primary else "active"

        return [KekVersion(v.version, v.created_at, state_of(v)) for _, v in sorted(state.versions.items())]

    def wrap(self, dek: bytes, *, record_id: str) -> WrappedKey:
        state = self._current()
        primary = state.versions[state.primary]
        return wrap_data_key(primary.key, primary.version, dek, record_id=record_id, rng=self._rng)

    def unwrap(self, wrapped: WrappedKey, *, record_id: str) -> bytes:
        state = self._current()
        version = state.versions.get(wrapped.kek_version)
        if version is None or version.retired:
            _log.debug(
                "crypto.unwrap_failed",
                cause="unknown_version" if version is None else "retired_version",
                kek_version=wrapped.kek_version,
            )
            raise DecryptionError
        return unwrap_data_key(version.key, wrapped, record_id=record_id)

    def rotate(self) -> int:
        with self._mutex, self._exclusive():
            state = self._load()
            number = max(state.versions) + 1
            versions = dict(state.versions)
            versions[number] = self._new_version(number)
            self._write(_State(number, versions))
            self._load()
        _log.info("crypto.kek_rotated", kek_version=number)
        return number

    def retire(self, version: int) -> None:
        with self._mutex, self._exclusive():
            state = self._load()
            if version not in state.versions:
                raise KeyringError(f"KEK version {version} does not exist")
            if version == state.primary:
                raise KeyringError(f"KEK version {version} is the primary: rotate first, then rewrap, then retire")
            if state.versions[version].retired:
                return
            versions = dict(state.versions)
            old = versions[version]
            versions[version] = _Version(old.version, old.created_at, True, old.key)
            self._write(_State(state.primary, versions))
            self._load()
        _log.info("crypto.kek_retired", kek_version=version)

    # --- file handling -------------------------------------------------------------------------

    def _new_version(self, number: int) -> _Version:
        key = self._rng(KEY_SIZE)
        if len(key) != KEY_SIZE:
            raise ValueError("rng returned the wrong number of bytes")
        return _Version(number, self._clock().astimezone(UTC), False, key)

    def _current(self) -> _State:
        with self._mutex:
            try:
                st = os.lstat(self._path)
            except FileNotFoundError:
                raise KeyringError(f"keyring {self._path} disappeared") from None
            if (st.st_ino, st.st_mtime_ns, st.st_size) != self._stamp:
                self._load()
            return self._state

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Cross-process lock (a sidecar .lock file) around read-modify-write of the keyring."""
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self._path.with_name(self._path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _load(self) -> _State:
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise KeyringError(f"cannot open keyring {self._path}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise KeyringError(f"keyring {self._path} is not a regular file")
            if st.st_mode & 0o077:
                raise KeyringError(
                    f"keyring {self._path} has mode {stat.S_IMODE(st.st_mode):04o}: it must not be readable or "
                    f"writable by group or others (run: chmod 600 {self._path})"
                )
            with os.fdopen(fd, "rb", closefd=False) as handle:
                raw = handle.read()
        finally:
            os.close(fd)
        state = _parse(raw, self._path)
        self._state = state
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        return state

    def _write(self, state: _State) -> None:
        doc = {
            "format": FILE_FORMAT,
            "primary": state.primary,
            "versions": [
                {
                    "version": v.version,
                    "created_at": v.created_at.isoformat(),
                    "state": "retired" if v.retired else "active",
                    "key": base64.b64encode(v.key).decode("ascii"),
                }
                for _, v in sorted(state.versions.items())
            ],
        }
        data = json.dumps(doc, indent=2).encode("utf-8") + b"\n"
        directory = self._path.parent
        tmp = directory / f".{self._path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact regardless
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.replace(tmp, self._path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)


def _parse(raw: bytes, path: Path) -> _State:
    # Error messages never quote the file: it holds key material.
    try:
        doc: Any = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
            raise ValueError("format")
        versions: dict[int, _Version] = {}
        for item in doc["versions"]:
            number = item["version"]
            if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 1 << 32:
                raise ValueError("version")
            if number in versions or item["state"] not in ("active", "retired"):
                raise ValueError("state")
            key = base64.b64decode(item["key"], validate=True)
            if len(key) != KEY_SIZE:
                raise ValueError("key")
            created = datetime.fromisoformat(item["created_at"])
            if created.tzinfo is None:
                raise ValueError("created_at")
            versions[number] = _Version(number, created, item["state"] == "retired", key)
        primary = doc["primary"]
        if primary not in versions or versions[primary].retired:
            raise ValueError("primary")
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyringError(f"keyring {path} is malformed ({type(exc).__name__})") from None
    return _State(primary, versions)
