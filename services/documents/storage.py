"""All SQL of the documents service: each family's form of its current version
(`documents.forms`, one row per account), its PDF sealed under a key derived for the purpose and
bound to its row and version; and the cancelled accounts, whose rows go in the statement that
records the event as handled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg_pool

from common import cancelled, consumed
from common.crypto import DecryptionFailed
from common.keys import MasterKeys
from services.documents.contract import SERVICE_NAME

_FORMS_KEY = "documents/forms"
_TOKEN_KEY = "documents/form-token"
_LOCK_ACCOUNT = cancelled.lock(SERVICE_NAME).as_string()
# A form rendered while its family's cancellation was handled is not stored after it.
_STORE = (
    "INSERT INTO documents.forms (account_no, version, digest, issued_at, size, pdf_enc) "
    "SELECT %(account_no)s, %(version)s, %(digest)s, %(issued_at)s, %(size)s, %(pdf_enc)s "
    "WHERE NOT " + cancelled.was_cancelled(SERVICE_NAME).as_string() + " "
    "ON CONFLICT (account_no) DO UPDATE SET version = EXCLUDED.version, "
    "digest = EXCLUDED.digest, issued_at = EXCLUDED.issued_at, size = EXCLUDED.size, "
    "pdf_enc = EXCLUDED.pdf_enc, rendered_at = now() "
    # an older version's render that lost a race never replaces a newer one
    "WHERE documents.forms.version <= EXCLUDED.version")
_FORGET = (consumed.first_time(SERVICE_NAME).as_string() + cancelled.remember(SERVICE_NAME)
           .as_string() + ", gone AS (DELETE FROM documents.forms WHERE account_no = "
           "%(account_no)s AND EXISTS (SELECT 1 FROM first)) SELECT count(*) FROM first")


def _bound(account_no: str, version: int) -> str:
    """Associated data: a sealed PDF opens only in its own row, for its version."""
    return f"documents.forms.pdf_enc:{account_no}:{version}"


@dataclass(frozen=True)
class StoredForm:
    account_no: str
    version: int
    digest: str
    issued_at: datetime
    pdf: bytes


class FormStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool, master: MasterKeys):
        self._pool = pool
        self._cipher = master.cipher(_FORMS_KEY)

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1")

    def find(self, account_no: str) -> StoredForm | None:
        """The account's stored form (of whichever version it was rendered for). One sealed
        under a master key no longer held is not found: it is rendered again, so the cache
        needs no key rotation of its own."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT version, digest, issued_at, pdf_enc FROM documents.forms "
                               "WHERE account_no = %s", (account_no,)).fetchone()
        if row is None:
            return None
        version, digest, issued_at, sealed = row
        try:
            pdf = self._cipher.open(sealed, _bound(account_no, version))
        except DecryptionFailed:
            return None
        return StoredForm(account_no, version, digest, issued_at, pdf)

    def store(self, form: StoredForm) -> None:
        with self._pool.connection() as conn, conn.transaction():
            params = {"account_no": form.account_no, "version": form.version,
                      "digest": form.digest, "issued_at": form.issued_at,
                      "size": len(form.pdf),
                      "pdf_enc": self._cipher.seal(form.pdf, _bound(form.account_no,
                                                                    form.version))}
            conn.execute(_LOCK_ACCOUNT, params)
            conn.execute(_STORE, params)

    def forget_account(self, event_id: str, event_type: str, account_no: str) -> bool:
        """Deletes the family's form and remembers the account as cancelled; False if the
        event was handled before."""
        params = {"event_id": event_id, "event_type": event_type, "account_no": account_no}
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_LOCK_ACCOUNT, params)
            return conn.execute(_FORGET, params).fetchone()[0] == 1


def token_key(master: MasterKeys) -> bytes:
    """The key of the forms' tokens: the lowest master key's derivation, as for look-ups,
    since printed forms cannot be re-signed after a rotation."""
    return master.stable(_TOKEN_KEY)

