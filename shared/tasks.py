"""Background tasks, one way to stop them: cancel, then wait until they have finished unwinding."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel each task (a `None` is skipped: one never started), then await each until it has ended.

    Their cancellation is swallowed; any other exception a task ended with propagates, so a background
    loop that died of a bug still says so on shutdown. All are cancelled before the first is awaited."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
