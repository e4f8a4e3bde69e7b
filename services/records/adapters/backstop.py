"""S3 lifecycle rule as a backstop behind the sweeper (best effort: not every store supports it).

Off by default: a note lives until a year after its pairing ends, so a bucket-wide age limit must
be longer than any pairing can last; set RECORDS_LIFECYCLE_BACKSTOP_DAYS to that bound."""

from __future__ import annotations

import asyncio

from minio.commonconfig import ENABLED, Filter
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from shared.logging import get_logger
from shared.objectstore import ObjectStore, S3ObjectStore

log = get_logger("tandem.records.lifecycle")


async def install_backstop(store: ObjectStore, days: int) -> bool:
    if days <= 0 or not isinstance(store, S3ObjectStore):
        return False
    config = LifecycleConfig([Rule(ENABLED, rule_filter=Filter(prefix="o/"), rule_id="tandem-records-backstop",
                                   expiration=Expiration(days=days))])
    try:
        await asyncio.to_thread(store.client.set_bucket_lifecycle, store.bucket, config)
    except Exception as exc:  # noqa: BLE001 - best effort: the sweeper is the real mechanism
        log.warning("records.lifecycle_unsupported", exc_type=type(exc).__name__)
        return False
    log.info("records.lifecycle_installed", days=days)
    return True
