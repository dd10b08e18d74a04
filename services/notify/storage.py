"""All SQL of the notify service. Phone numbers and texts are stored encrypted, never in clear.

A message is sent by whoever holds its lease (`claimed_until`): the worker that recorded it
holds the first one, so it can send at once; when a lease runs out (a crash, a provider
outage) the retry loop claims the message again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg_pool

from common.crypto import FieldCipher, LookupHasher
from services.notify.contract import SmsMessage

PHONE_CONTEXT = "notify.phone"
TEXT_CONTEXT = "notify.text"

# `expired` is judged by the database's clock, like the lease.
_EXPIRED = "coalesce(not_after <= now(), false)"
# What a claim returns.
_CLAIMED = f"RETURNING id, purpose, phone_enc, text_enc, attempts, {_EXPIRED}"

# Records an event as handled; `first` has a row only if the event was not seen before.
_FIRST_TIME = ("WITH first AS (INSERT INTO notify.processed_events (event_id, event_type) "
               "VALUES (%(event_id)s, %(event_type)s) ON CONFLICT (event_id) DO NOTHING "
               "RETURNING event_id) ")
# A new message, claimed by its writer (`{source}`: empty, or FROM first).
_INSERT = ("INSERT INTO notify.messages (id, purpose, phone_hash, phone_enc, text_enc, "
           "not_after, attempts, claimed_until) SELECT %(id)s, %(purpose)s, %(phone_hash)s, "
           "%(phone_enc)s, %(text_enc)s, %(not_after)s::timestamptz, 1, "
           "now() + make_interval(secs => %(lease_s)s){source} "
           f"ON CONFLICT (id) DO NOTHING RETURNING attempts, {_EXPIRED}")
_RECORD_EVENT = _FIRST_TIME + _INSERT.format(source=" FROM first")
_FORGET_PHONE = (_FIRST_TIME + ", forgotten AS (DELETE FROM notify.messages WHERE phone_hash = "
                 "%(phone_hash)s AND status <> 'pending' AND EXISTS (SELECT 1 FROM first)), "
                 "owed AS (UPDATE notify.messages SET forget_when_final = true WHERE phone_hash = "
                 "%(phone_hash)s AND status = 'pending' AND EXISTS (SELECT 1 FROM first)) "
                 "SELECT count(*) FROM first")
# Messages become final (sent, expired or failed) together; one that does so after its phone
# was forgotten is deleted instead of kept.
_FINISH = ("WITH done AS (SELECT * FROM unnest(%(ids)s::text[], %(sent_at)s::timestamptz[]) "
           "AS d(id, sent_at)), forgotten AS (DELETE FROM notify.messages m USING done "
           "WHERE m.id = done.id AND m.forget_when_final) "
           "UPDATE notify.messages m SET status = %(status)s, text_enc = NULL, "
           "sent_at = done.sent_at, last_error = coalesce(%(error)s, m.last_error) "
           "FROM done WHERE m.id = done.id AND NOT m.forget_when_final")


@dataclass(frozen=True)
class Claim:
    """A pending message the caller may send until its lease runs out."""
    message_id: str
    purpose: str
    phone: str
    text: str
    attempts: int  # including this one
    expired: bool


class MessageStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool, data_key: bytes):
        self._pool = pool
        self._cipher = FieldCipher(data_key)
        self._hash = LookupHasher(data_key)

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1")

    def record_event(self, event_id: str, event_type: str, message: SmsMessage,
                     not_after: datetime | None, lease_s: float) -> Claim | None:
        """Stores the event's message, claimed by the caller, unless the event was seen.
        One statement: the event is marked handled exactly when its message is stored."""
        return self._insert(_RECORD_EVENT, message, not_after, lease_s,
                            event_id=event_id, event_type=event_type)

    def forget_phone(self, event_id: str, event_type: str, phone: str) -> bool:
        """Deletes the finished messages to a phone whose family cancelled; False if the event
        was seen before. Pending ones may still be owed (to another account on the phone):
        they are sent, then deleted once final."""
        with self._pool.connection() as conn:
            return conn.execute(_FORGET_PHONE, {
                "event_id": event_id, "event_type": event_type,
                "phone_hash": self._hash("phone", phone)}).fetchone()[0] == 1

    def claim(self, message_id: str, lease_s: float) -> Claim | None:
        """Takes a pending message whose lease ran out; None if it is final or held."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE notify.messages SET attempts = attempts + 1, "
                "claimed_until = now() + make_interval(secs => %s) "
                "WHERE id = %s AND status = 'pending' AND claimed_until < now() " + _CLAIMED,
                (lease_s, message_id)).fetchone()
        return self._claim(row) if row else None

    def claimable(self, limit: int) -> list[str]:
        """Pending messages whose lease ran out, longest waiting first."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id FROM notify.messages WHERE status = 'pending' "
                "AND claimed_until < now() ORDER BY claimed_until LIMIT %s", (limit,)).fetchall()
        return [row[0] for row in rows]

    def retry_later(self, message_id: str, error: str, delay_s: float) -> None:
        """Keeps the message pending, untouched by the retry loop for `delay_s`."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE notify.messages SET last_error = %s, "
                "claimed_until = now() + make_interval(secs => %s) WHERE id = %s",
                (error, delay_s, message_id))

    def mark_sent(self, sent: dict[str, datetime]) -> None:
        """Records texts as sent (message id -> when it was sent), in one statement."""
        self._finish(list(sent), list(sent.values()), "sent", None)

    def mark_expired(self, message_id: str) -> None:
        self._finish([message_id], [None], "expired", None)

    def mark_failed(self, message_id: str, error: str) -> None:
        self._finish([message_id], [None], "failed", error)

    def _finish(self, message_ids: list[str], sent_at: list[datetime | None], status: str,
                error: str | None) -> None:
        # A final message keeps no text: it may hold a code, and nobody will send it again.
        with self._pool.connection() as conn:
            conn.execute(_FINISH, {"ids": message_ids, "sent_at": sent_at, "status": status,
                                   "error": error})

    def _insert(self, query: str, message: SmsMessage, not_after: datetime | None,
                lease_s: float, **event) -> Claim | None:
        """Inserts a new message, claimed by the caller (the claim holds what was just
        encrypted, not decrypted back); None if nothing was inserted."""
        with self._pool.connection() as conn:
            row = conn.execute(query, {
                "id": message.message_id, "purpose": message.purpose,
                "phone_hash": self._hash("phone", message.phone),
                "phone_enc": self._cipher.encrypt({"phone": message.phone}, PHONE_CONTEXT),
                "text_enc": self._cipher.encrypt({"text": message.text}, TEXT_CONTEXT),
                "not_after": not_after, "lease_s": lease_s, **event}).fetchone()
        if row is None:
            return None
        attempts, expired = row
        return Claim(message.message_id, message.purpose, message.phone, message.text,
                     attempts, expired)

    def _claim(self, row) -> Claim:
        message_id, purpose, phone_enc, text_enc, attempts, expired = row
        return Claim(message_id, purpose,
                     self._cipher.decrypt(phone_enc, PHONE_CONTEXT)["phone"],
                     self._cipher.decrypt(text_enc, TEXT_CONTEXT)["text"], attempts, expired)
