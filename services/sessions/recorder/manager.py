"""The recorders running on this instance, capped by SESSIONS_MAX_RECORDINGS."""

from __future__ import annotations

from collections import deque
from typing import Any

from services.sessions.meetings.rooms import Room
from shared.logging import get_logger

log = get_logger("tandem.sessions.recorder")


class RecordingUnavailable(Exception):
    """No recorder can start here now (cap reached, no sink configured)."""


class Recorders:
    def __init__(self, *, max_recordings: int, factory: Any = None) -> None:
        self.max_recordings = max_recordings
        self.factory = factory  # builds and starts one recording; None: recording is not configured
        self.active: dict[str, Any] = {}
        self.finished: deque[Any] = deque(maxlen=32)  # recent recordings, for metrics and tests

    def can_start(self) -> bool:
        return self.factory is not None and len(self.active) < self.max_recordings

    async def start(self, room: Room, recording_id: str) -> None:
        if not self.can_start():
            raise RecordingUnavailable()
        self.active[recording_id] = None  # hold the slot while starting
        try:
            self.active[recording_id] = await self.factory(room, recording_id, self._finished)
        except BaseException:
            self.active.pop(recording_id, None)
            raise

    def _finished(self, recording_id: str) -> None:
        recording = self.active.pop(recording_id, None)
        if recording is not None:
            self.finished.append(recording)

    async def stop_all(self, reason: str) -> None:
        for recording in list(self.active.values()):
            if recording is not None:
                await recording.stop(reason)
