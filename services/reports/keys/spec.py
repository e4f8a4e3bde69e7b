"""Where the reports service keeps wrapped data keys, for the shared key commands (shared/keyadmin):
each report, note or message, attachment and reveal request has its own data key bound to its row id;
the blind-index key is bound to its fixed record id."""

from __future__ import annotations

from services.reports.adapters.index_key import RECORD_ID as INDEX_RECORD_ID
from services.reports.adapters.index_key import index_keys
from services.reports.casefile.tables import attachments, entries, reports
from services.reports.cases.tables import reveal_requests
from services.reports.config import Settings
from shared.keyadmin import KeyCommands, WrappedKeys

KEYS = KeyCommands[Settings](
    service="reports",
    wrapped=(
        WrappedKeys(reports),
        WrappedKeys(entries),
        WrappedKeys(attachments),
        WrappedKeys(reveal_requests),
        WrappedKeys(index_keys, blob="wrapped_key", record_id=INDEX_RECORD_ID),
    ),
)
