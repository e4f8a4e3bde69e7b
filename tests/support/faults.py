"""Fault injection on the real servers: SIGKILL or SIGSTOP a private redis-server or SeaweedFS, then
bring it back on the same port with the same data folder (what a supervisor restarting it does)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from deploy.local.children import RedisChild, S3Child, start_redis, start_seaweed


class KillableRedis:
    """A private redis-server that a test may kill and restart; `appendonly` as the deployment has it
    (the embedded runner and compose: AOF on, fsync every second; the test suite's server: off)."""

    def __init__(self, data_dir: Path, *, appendonly: bool) -> None:
        self.data_dir = data_dir
        self.appendonly = appendonly
        self.child: RedisChild = start_redis(data_dir, appendonly=appendonly)
        self.port = self.child.port
        self.url = self.child.url

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no AOF rewrite; what the kernel already had is all that is left."""
        self.child.proc.send_signal(signal.SIGKILL)
        self.child.proc.wait(10)

    def restart(self) -> None:
        self.child = start_redis(self.data_dir, port=self.port, appendonly=self.appendonly)

    def stop(self) -> None:
        self.child.stop()


class FreezableS3:
    """A private SeaweedFS (`weed mini`) that a test may freeze (SIGSTOP: it holds every connection
    open and answers nothing), thaw, kill and restart on the same ports and data folder."""

    def __init__(self, data_dir: Path, *, access_key: str, secret_key: str) -> None:
        self.data_dir = data_dir
        self.keys = (access_key, secret_key)
        self.child: S3Child = start_seaweed(data_dir, access_key=access_key, secret_key=secret_key)
        self.base = self.child.port - 3
        self.frozen = False

    @property
    def endpoint(self) -> str:
        return self.child.endpoint

    def _signal_group(self, sig: signal.Signals) -> None:
        # `weed mini` runs in its own session (start_new_session): its process group is its pid.
        os.killpg(self.child.proc.pid, sig)

    def freeze(self) -> None:
        self._signal_group(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen and self.child.proc.poll() is None:
            self._signal_group(signal.SIGCONT)
        self.frozen = False

    def kill(self) -> None:
        self.thaw()
        if self.child.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.child.proc.wait(10)

    def restart(self) -> None:
        self.child = start_seaweed(self.data_dir, access_key=self.keys[0], secret_key=self.keys[1], base=self.base)

    def stop(self) -> None:
        self.thaw()
        self.child.stop()
