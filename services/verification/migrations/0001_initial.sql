-- Runs as platform_owner (common/migrations.py). verification logs in as
-- platform_verification; no other role may use the schema. The outbox and the record of
-- handled events are common tables, made after this file (common/migrations.py).
REVOKE ALL ON SCHEMA verification FROM PUBLIC;
GRANT USAGE ON SCHEMA verification TO platform_verification;

-- One row per submitted version of an account's details. The request (what the family
-- entered: names, document numbers, permits) is sealed (services.verification.storage) and
-- erased once the check is over; the result keeps codes and Chinese reasons only.
CREATE TABLE verification.checks (
    account_no      text NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'done', 'cancelled')),
    request_enc     bytea,                 -- sealed CheckRequest, bound to the row
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),  -- not run before (backoff)
    claimed_until   timestamptz,           -- its runner holds the check until then (lease)
    claim_token     uuid,                  -- which runner: only it may finish the check
    result          text CHECK (result IN ('verified', 'failed')),
    items           jsonb,                 -- failed items: code, field, reason (no personal data)
    last_error      text,                  -- a short label (timeout, http_503), never a person
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (account_no, version),
    CHECK (status = 'pending' OR request_enc IS NULL),
    CHECK ((status = 'done') = (result IS NOT NULL))
);

-- The runner looks for due checks among the pending ones only.
CREATE INDEX checks_due ON verification.checks (next_attempt_at) WHERE status = 'pending';

-- The embedded registry (VERIFICATION_REGISTRY=local), loaded from CSV by
-- `python -m services.verification.load_registry`. Looked up by a keyed hash of the key
-- (document type and number, permit number); each record is sealed, bound to its hash.
CREATE TABLE verification.people (
    lookup_hash bytea PRIMARY KEY,
    record_enc  bytea NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE verification.permits (
    lookup_hash bytea PRIMARY KEY,
    record_enc  bytea NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON verification.checks, verification.people,
    verification.permits TO platform_verification;
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA verification
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO platform_verification;
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA verification
    GRANT USAGE ON SEQUENCES TO platform_verification;
