"""The event bus on RabbitMQ: robust connection, idempotent topology, confirmed publisher, consumer wrapper."""

from servicekit.bus.connection import check_broker, connect
from servicekit.bus.consumer import Consumer, Handler, MessageContext, PermanentError, once_id
from servicekit.bus.publisher import Publisher, PublishError
from servicekit.bus.topology import declare_queue, declare_topology

__all__ = [
    "Consumer",
    "Handler",
    "MessageContext",
    "PermanentError",
    "PublishError",
    "Publisher",
    "check_broker",
    "connect",
    "declare_queue",
    "declare_topology",
    "once_id",
]
