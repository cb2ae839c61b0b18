"""Persistence: Tortoise models, migrations, the outbox, durable jobs and idempotency."""
