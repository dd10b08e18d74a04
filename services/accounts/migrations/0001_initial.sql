-- The accounts service's schema. Personal data lives only in `personal` (AES-GCM);
-- look-ups and uniqueness use keyed hashes (HMAC-SHA256).

CREATE TABLE accounts.accounts (
    id              bigserial PRIMARY KEY,
    account_no      char(8) NOT NULL UNIQUE,
    district        text NOT NULL,
    hukou_type      text NOT NULL CHECK (hukou_type IN ('beijing', 'non_beijing')),
    school_stage    text NOT NULL DEFAULT 'primary',
    document_type   text NOT NULL,
    document_hash   bytea,            -- NULL once cancelled: the number may register again
    phone_hash      bytea,            -- NULL once cancelled: frees the phone's slot
    personal        bytea,            -- NULL once cancelled: the family's data is gone
    password_hash   text,
    policy_version  text NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    failed_logins   int NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    consented_at    timestamptz NOT NULL DEFAULT now(),
    cancelled_at    timestamptz
);
CREATE UNIQUE INDEX accounts_one_per_document ON accounts.accounts (document_hash)
    WHERE status = 'active';
CREATE INDEX accounts_by_phone ON accounts.accounts (phone_hash) WHERE status = 'active';

CREATE TABLE accounts.sessions (
    token_hash      bytea PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts.accounts (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX sessions_by_account ON accounts.sessions (account_id);

CREATE TABLE accounts.captchas (
    id              uuid PRIMARY KEY,
    answer_hash     bytea NOT NULL,
    expires_at      timestamptz NOT NULL
);

CREATE TABLE accounts.sms_codes (
    id              bigserial PRIMARY KEY,
    phone_hash      bytea NOT NULL,
    ip_hash         bytea NOT NULL,
    purpose         text NOT NULL,
    code_hash       bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    wrong_tries     int NOT NULL DEFAULT 0,
    used_at         timestamptz
);
CREATE INDEX sms_codes_by_phone ON accounts.sms_codes (phone_hash, created_at DESC);
CREATE INDEX sms_codes_by_ip ON accounts.sms_codes (ip_hash, created_at DESC);

CREATE TABLE accounts.outbox (
    id              uuid PRIMARY KEY,
    event_type      text NOT NULL,
    payload         bytea NOT NULL,  -- encrypted: it may carry a phone number
    request_id      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX outbox_in_order ON accounts.outbox (created_at);

-- Append-only, hash-chained security log (kept >= 180 days; holds masked values only).
CREATE TABLE accounts.audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    action          text NOT NULL,
    account_no      char(8),
    entry           jsonb NOT NULL,
    previous_digest char(64) NOT NULL,
    digest          char(64) NOT NULL UNIQUE
);

CREATE FUNCTION accounts.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON accounts.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION accounts.audit_log_is_append_only();
