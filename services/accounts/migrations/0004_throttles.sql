-- Fixed-window attempt counters behind every throttle (services/accounts/rules/throttle.py
-- decides): one row per kind, keyed-hash subject and window, incremented by one upsert.
CREATE TABLE accounts.attempts (
    kind            text NOT NULL,
    subject_hash    bytea NOT NULL,
    window_start    timestamptz NOT NULL,
    count           int NOT NULL,
    PRIMARY KEY (kind, subject_hash, window_start)
);
CREATE INDEX attempts_by_window ON accounts.attempts (window_start);

-- A forgot-password code for no matching account is recorded but never texted: it counts
-- against the client address and the account reference, never against the phone's cap.
ALTER TABLE accounts.sms_codes ADD COLUMN delivered boolean NOT NULL DEFAULT true;

-- The resend cooldown's key: the phone, or for forgot-password the (phone, account reference)
-- pair, so that neither a withheld code silences the phone nor a delivered one can be told
-- from a withheld one by the cooldown it leaves.
ALTER TABLE accounts.sms_codes ADD COLUMN cooldown_hash bytea;
CREATE INDEX sms_codes_by_cooldown ON accounts.sms_codes (cooldown_hash, created_at DESC);
