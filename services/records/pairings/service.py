"""Pairing membership and session→pairing projection, fed by `tandem.pairing` and `tandem.session`
events (consumer group "records"). Requests read this projection and never wait on another service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.records.core.tables import records
from services.records.pairings.tables import pairing_sessions, pairings
from shared.db import upsert_values_supported  # type: ignore[attr-defined]  # noqa: F401 - see below
