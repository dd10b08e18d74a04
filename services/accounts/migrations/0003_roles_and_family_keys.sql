-- Runs as platform_owner (common/migrations.py), which owns the schema and its tables. The
-- service logs in as platform_accounts with only what it needs: the audit log is insert and
-- read only (no UPDATE, DELETE, TRUNCATE; not being the owner it cannot disable the trigger
-- either), its head may only move. No other role may use the schema.
REVOKE ALL ON SCHEMA accounts FROM PUBLIC;
GRANT USAGE ON SCHEMA accounts TO platform_accounts;
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts.accounts, accounts.sessions, accounts.captchas,
    accounts.sms_codes, accounts.outbox TO platform_accounts;
GRANT SELECT, INSERT ON accounts.audit_log TO platform_accounts;
GRANT SELECT, UPDATE ON accounts.audit_head TO platform_accounts;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA accounts TO platform_accounts;
-- Tables of later migrations get the same everyday rights; narrower ones are revoked there.
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA accounts
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO platform_accounts;
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA accounts
    GRANT USAGE ON SEQUENCES TO platform_accounts;

-- Each family's own data key (32 random bytes), sealed (AES-GCM) under a key derived from the
-- master key. It encrypts the family's personal data and is erased on cancellation, so copies
-- of their ciphertext in backups and WAL can no longer be opened (crypto-shredding).
ALTER TABLE accounts.accounts ADD COLUMN family_key bytea;
