-- Accounts whose cancellation was handled: a text an event of theirs owes, handled later (the
-- account's number, an outcome), is neither recorded nor sent (common/cancelled.py). Kept for
-- good, never changed.
CREATE TABLE notify.cancellations (
    account_no   text PRIMARY KEY,
    cancelled_at timestamptz NOT NULL DEFAULT now()
);
REVOKE UPDATE, DELETE ON notify.cancellations FROM platform_notify;
