"""Generated documentation blocks (configuration tables, event catalogue) match the code."""

from __future__ import annotations

from deploy import docs


def test_generated_blocks_are_current() -> None:
    assert docs.main(["--check"]) == 0, "run `python -m deploy.docs` and commit the result"


def test_every_event_type_is_documented() -> None:
    text = (docs.ROOT / "docs" / "architecture.md").read_text()
    from shared.events.catalogue import STREAMS

    for spec in STREAMS.values():
        assert f"`{spec.name}`" in text
        for event in spec.events:
            assert f"`{event.TYPE}`" in text
