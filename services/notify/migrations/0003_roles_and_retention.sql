-- Runs as platform_owner (common/migrations.py). notify logs in as platform_notify; no other
-- role may use the schema.
REVOKE ALL ON SCHEMA notify FROM PUBLIC;
GRANT USAGE ON SCHEMA notify TO platform_notify;
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.messages, notify.processed_events
    TO platform_notify;
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA notify
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO platform_notify;
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA notify
    GRANT USAGE ON SEQUENCES TO platform_notify;

-- Forgetting a phone (cancellation) and the retention purge find its texts by phone.
CREATE INDEX messages_by_phone ON notify.messages (phone_hash, purpose);
