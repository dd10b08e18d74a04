-- Bulk district calls (usecases/bulk.py): each call by its district and idempotency key, with
-- the sha256 of its items' canonical JSON (the same key with other items is refused), and each
-- item's outcome, recorded in the transaction of its decision, so that a repeated or retried
-- call decides nothing twice. Nothing personal beyond the account number.
CREATE TABLE enrollment.bulk_calls (
    district         text NOT NULL,
    idempotency_key  text NOT NULL,
    request_digest   text NOT NULL CHECK (request_digest ~ '^[0-9a-f]{64}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district, idempotency_key)
);

CREATE TABLE enrollment.bulk_items (
    district         text NOT NULL,
    idempotency_key  text NOT NULL,
    index            int NOT NULL CHECK (index >= 0),   -- the item's place in the call
    account_no       char(8) NOT NULL,
    ok               boolean NOT NULL,
    code             text,   -- the refusal's (common/errors.py)
    message          text,
    CHECK (ok = (code IS NULL)),
    PRIMARY KEY (district, idempotency_key, index),
    FOREIGN KEY (district, idempotency_key) REFERENCES enrollment.bulk_calls
);

-- Kept as written: the service's rights come from 0001's default privileges, less these.
REVOKE UPDATE, DELETE ON enrollment.bulk_calls, enrollment.bulk_items FROM platform_enrollment;
