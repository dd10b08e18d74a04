"""The notify service wired once: what its entrypoints use, for the service (service.py) and
the tests. Nothing here imports nameko or eventlet."""

from __future__ import annotations

from dataclasses import dataclass

from services.notify import delivery
from services.notify.storage import MessageStore


@dataclass(frozen=True)
class NotifyApp:
    messages: MessageStore  # the texts, sealed, and the events that asked for them
    # One per container: every worker shares its file lock or HTTP session.
    backend: delivery.OutboxFileBackend | delivery.HttpBackend


def build(settings, pool) -> NotifyApp:
    """Notify's store on `pool` (logged in as notify's role) and its SMS backend."""
    return NotifyApp(MessageStore(pool, settings.master_keys),
                     delivery.backend_from_settings(settings))
