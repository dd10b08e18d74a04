-- Text messages to guardians. Phone and text are encrypted (services.notify.storage); the
-- text is erased as soon as the message is final, since it may carry a code.
CREATE TABLE notify.messages (
    id            text PRIMARY KEY,      -- the sender's message_id: same id, one SMS
    purpose       text NOT NULL,
    phone_hash    bytea NOT NULL,
    phone_enc     bytea NOT NULL,
    text_enc      bytea,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'failed', 'expired')),
    attempts      integer NOT NULL DEFAULT 0,
    claimed_until timestamptz NOT NULL,  -- its sender holds the message until then (lease)
    not_after     timestamptz,           -- never delivered after this time
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    last_error    text,                  -- no personal data: an HTTP status or an error class
    CHECK (status = 'pending' OR text_enc IS NULL)
);

-- The retry loop scans only pending messages.
CREATE INDEX messages_pending ON notify.messages (claimed_until) WHERE status = 'pending';

-- Events already turned into messages: a redelivered event is ignored.
CREATE TABLE notify.processed_events (
    event_id   text PRIMARY KEY,
    event_type text NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now()
);
