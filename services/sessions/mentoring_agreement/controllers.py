"""The pair's mentoring agreement (issue 17, item 3): routes (being built)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

ROUTES: list[ControllerRouterHandler] = []
