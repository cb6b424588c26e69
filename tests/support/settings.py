"""Where this run's PostgreSQL and RabbitMQ are, and the id that names what the run creates in them."""

from __future__ import annotations

import os
import uuid

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
RUN_ID = uuid.uuid4().hex[:8]
