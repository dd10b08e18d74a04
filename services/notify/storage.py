"""All SQL of the notify service. Phone numbers and texts are stored encrypted, never in clear.

A message is sent by whoever holds its lease (`claimed_until`): the worker that recorded it
holds the first one, so it can send at once; when a lease runs out (a crash, a provider
outage) the retry loop claims the message again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg_pool

from common import cancelled, consumed
from common.crypto import LookupHasher
from common.keys import MasterKeys
from services.notify.contract import SmsMessage


def _bound(column: str, message_id: str) -> str:
    """Associated data: a ciphertext opens only in its own column of its own row."""
    return f"notify.messages.{column}:{message_id}"


# `expired` is judged by the database's clock, like the lease.
_EXPIRED = "coalesce(not_after <= now(), false)"
# What a claim returns.
_CLAIMED = f"RETURNING id, purpose, phone_enc, text_enc, attempts, {_EXPIRED}"

# Records an event as handled; `first` has a row only if the event was not seen before.
_FIRST_TIME = consumed.first_time("notify").as_string()
# An event's new message, claimed by its writer, unless the event was seen or the account it is
# about was cancelled (common/cancelled.py: the recording and the forgetting hold the account's
# lock).
_RECORD_EVENT = (_FIRST_TIME + " INSERT INTO notify.messages (id, purpose, phone_hash, phone_enc, "
                 "text_enc, not_after, attempts, claimed_until) SELECT %(id)s, %(purpose)s, "
                 "%(phone_hash)s, %(phone_enc)s, %(text_enc)s, %(not_after)s::timestamptz, 1, "
                 "now() + make_interval(secs => %(lease_s)s) FROM first WHERE NOT "
                 + cancelled.was_cancelled("notify").as_string() +
                 f" ON CONFLICT (id) DO NOTHING RETURNING attempts, {_EXPIRED}")
_LOCK_ACCOUNT = cancelled.lock("notify").as_string()
_WAS_CANCELLED = "SELECT " + cancelled.was_cancelled("notify").as_string()
_REMEMBER_CANCELLED = _FIRST_TIME + cancelled.remember("notify").as_string() + (
    " SELECT count(*) FROM first")
# Forgetting a phone and finishing messages may run at once (a batch of texts marked sent as the
# family cancels). Each is two statements in one transaction, the first taking the rows' locks:
# the second then sees what the other committed, so a message finished as its phone is forgotten
# is deleted by one or the other (in one statement, each would see the row as it was before the
# other's change, and neither would delete it).
_MARK_FORGOTTEN = "UPDATE notify.messages SET forget_when_final = true WHERE phone_hash = %s"
_DELETE_FINAL_OF_PHONE = "DELETE FROM notify.messages WHERE phone_hash = %s AND status <> 'pending'"
# Messages become final (sent, expired or failed) together; one whose phone was forgotten is
# then deleted instead of kept.
_FINISH = ("WITH done AS (SELECT * FROM unnest(%(ids)s::text[], %(sent_at)s::timestamptz[]) "
           "AS d(id, sent_at)) "
           "UPDATE notify.messages m SET status = %(status)s, text_enc = NULL, "
           "sent_at = done.sent_at, last_error = coalesce(%(error)s, m.last_error) "
           "FROM done WHERE m.id = done.id")
_DELETE_FORGOTTEN = "DELETE FROM notify.messages WHERE id = ANY(%s) AND forget_when_final"


@dataclass(frozen=True)
class Claim:
    """A pending message the caller may send until its lease runs out."""
    message_id: str
    purpose: str
    phone: str
    text: str
    attempts: int  # including this one
    expired: bool


# Texts to a phone none of whose families registered (codes for a registration never
# finished, say) are forgotten once the retention period is over.
_PURGE = ("DELETE FROM notify.messages m WHERE status <> 'pending' AND created_at < now() - "
          "make_interval(days => %s) AND NOT EXISTS (SELECT 1 FROM notify.messages r WHERE "
          "r.phone_hash = m.phone_hash AND r.purpose = 'account_registered')")


class MessageStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool, master: MasterKeys):
        self._pool = pool
        # Separate keys: the look-up hashes' key opens nothing, the cipher's hashes nothing.
        self._cipher = master.cipher("notify/data")
        self._hash = LookupHasher(master.stable("notify/lookup"))

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1")

    def record_event(self, event_id: str, event_type: str, message: SmsMessage,
                     not_after: datetime | None, lease_s: float,
                     account_no: str | None = None) -> Claim | None:
        """Stores the event's message, claimed by the caller, unless the event was seen or
        its account (`account_no`, if the event is about one) was cancelled. One statement
        records the event as handled and stores its message."""
        with self._pool.connection() as conn, conn.transaction():
            if account_no is not None:
                conn.execute(_LOCK_ACCOUNT, {"account_no": account_no})
            row = conn.execute(_RECORD_EVENT, {
                "event_id": event_id, "event_type": event_type, "account_no": account_no,
                "id": message.message_id, "purpose": message.purpose,
                "phone_hash": self._hash("phone", message.phone),
                "phone_enc": self._cipher.encrypt({"phone": message.phone},
                                                  _bound("phone_enc", message.message_id)),
                "text_enc": self._cipher.encrypt({"text": message.text},
                                                 _bound("text_enc", message.message_id)),
                "not_after": not_after, "lease_s": lease_s}).fetchone()
        if row is None:
            return None
        # the claim holds what was just encrypted, not decrypted back
        attempts, expired = row
        return Claim(message.message_id, message.purpose, message.phone, message.text,
                     attempts, expired)

    def was_cancelled(self, account_no: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute(_WAS_CANCELLED, {"account_no": account_no}).fetchone()[0]

    def forget_phone(self, event_id: str, event_type: str, account_no: str, phone: str
                     ) -> bool:
        """Deletes the finished messages to a phone whose family (`account_no`) cancelled, and
        any text its account's events would owe later; False if the event was seen before.
        Pending ones may still be owed (to another account on the phone): they are sent, then
        deleted once final."""
        phone_hash = self._hash("phone", phone)
        event = {"event_id": event_id, "event_type": event_type, "account_no": account_no}
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_LOCK_ACCOUNT, event)
            if not conn.execute(_REMEMBER_CANCELLED, event).fetchone()[0]:
                return False
            conn.execute(_MARK_FORGOTTEN, (phone_hash,))
            conn.execute(_DELETE_FINAL_OF_PHONE, (phone_hash,))
            return True

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

    def purge_unregistered(self, retention_days: int) -> int:
        """Forgets final texts older than `retention_days` to phones that never registered."""
        with self._pool.connection() as conn:
            return conn.execute(_PURGE, (retention_days,)).rowcount

    def _finish(self, message_ids: list[str], sent_at: list[datetime | None], status: str,
                error: str | None) -> None:
        # A final message keeps no text: it may hold a code, and nobody will send it again.
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_FINISH, {"ids": message_ids, "sent_at": sent_at, "status": status,
                                   "error": error})
            conn.execute(_DELETE_FORGOTTEN, (message_ids,))

    def _claim(self, row) -> Claim:
        message_id, purpose, phone_enc, text_enc, attempts, expired = row
        return Claim(message_id, purpose,
                     self._cipher.decrypt(phone_enc, _bound("phone_enc", message_id))["phone"],
                     self._cipher.decrypt(text_enc, _bound("text_enc", message_id))["text"],
                     attempts, expired)

    def rotate_keys(self) -> int:
        """Re-seals phones and texts sealed under an older master key; returns how many."""
        cipher = self._cipher
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute("SELECT id, phone_enc, text_enc FROM notify.messages "
                                "FOR UPDATE").fetchall()
            stale = [(self._reseal(phone_enc, _bound("phone_enc", message_id)),
                      self._reseal(text_enc, _bound("text_enc", message_id)), message_id)
                     for message_id, phone_enc, text_enc in rows
                     if not cipher.is_current(phone_enc)
                     or (text_enc is not None and not cipher.is_current(text_enc))]
            if stale:
                conn.cursor().executemany("UPDATE notify.messages SET phone_enc = %s, "
                                          "text_enc = %s WHERE id = %s", stale)
        return len(stale)

    def _reseal(self, blob: bytes | None, context: str) -> bytes | None:
        return None if blob is None else self._cipher.reseal(blob, context)


def rotate_keys(database_url: str, master: MasterKeys) -> int:
    """`python -m common.keys rotate notify`."""
    with psycopg_pool.ConnectionPool(database_url, min_size=1, max_size=1,
                                     kwargs={"autocommit": True}) as pool:
        return MessageStore(pool, master).rotate_keys()
