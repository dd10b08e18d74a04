-- Accounts whose cancellation was handled: an event of theirs handled later writes nothing
-- (common/cancelled.py). Kept for good, never changed.
CREATE TABLE verification.cancellations (
    account_no   text PRIMARY KEY,
    cancelled_at timestamptz NOT NULL DEFAULT now()
);
REVOKE UPDATE, DELETE ON verification.cancellations FROM platform_verification;
