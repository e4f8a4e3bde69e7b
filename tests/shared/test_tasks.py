"""shared/tasks.py: stopping background tasks (cancel, then await until they have unwound)."""

from __future__ import annotations

import asyncio

import pytest

from shared.tasks import cancel


async def test_cancels_and_waits_for_the_task_to_unwind() -> None:
    unwound: list[str] = []

    async def loop(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            unwound.append(name)

    one, two = asyncio.create_task(loop("one")), asyncio.create_task(loop("two"))
    await asyncio.sleep(0)
    await cancel(one, None, two)
    assert one.cancelled() and two.cancelled()
    assert unwound == ["one", "two"]
    await cancel(None)  # a task never started: nothing to do
    await cancel(one)  # already ended: nothing more to do


async def test_a_failure_other_than_the_cancellation_propagates() -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="boom"):
        await cancel(task)
