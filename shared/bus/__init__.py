"""Event bus on Redis Streams: `publisher` (publish with safe trimming), `consumer` (consumer groups,
retries, dead letters; its docstring tells the delivery rules), `dead_letters` (inspect and replay)."""

from shared.bus.consumer import MAX_BACKOFF_S, Consumer, Delivery, Handler
from shared.bus.dead_letters import dead_letters, replay_dead_letter
from shared.bus.ids import FIELD
from shared.bus.publisher import EPOCH_KEY, EventBus, RedisStreamBus, safe_trim_point

__all__ = [
    "EPOCH_KEY",
    "FIELD",
    "MAX_BACKOFF_S",
    "Consumer",
    "Delivery",
    "EventBus",
    "Handler",
    "RedisStreamBus",
    "dead_letters",
    "replay_dead_letter",
    "safe_trim_point",
]
