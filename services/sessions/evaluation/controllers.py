"""Evaluation: reflections and the programme's survey (issue 17, item 6): routes (being built)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

ROUTES: list[ControllerRouterHandler] = []
