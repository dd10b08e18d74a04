-- The enrollment service's schema: each family's application and every version it submitted.
-- Runs as platform_owner (common/migrations.py); the service logs in as platform_enrollment.
--
-- Everything personal (the registration facts, the details, the status with its reasons) is
-- sealed (AES-GCM) under the family's own data key, bound to its column and row; the family
-- key is itself sealed under a key derived from the master keys. A cancellation deletes the
-- application row, hence its key, and the versions with it (crypto-shredding: copies of the
-- ciphertext in backups and WAL no longer open). Only the account number, the district, the
-- hukou type, the details' status and the version number are in clear, for operations.
-- The outbox and the record of handled events are common tables (common/migrations.py).

CREATE TABLE enrollment.applications (
    account_no      char(8) PRIMARY KEY,
    district        text NOT NULL,
    hukou_type      text NOT NULL CHECK (hukou_type IN ('beijing', 'non_beijing')),
    family_key      bytea NOT NULL,   -- the family's data key, sealed
    registration    bytea NOT NULL,   -- sealed: the child as registered (accounts)
    state           bytea NOT NULL,   -- sealed: status, verification and review with reasons
    details_status  text NOT NULL CHECK (details_status IN ('empty', 'draft', 'submitted')),
    version         int NOT NULL DEFAULT 0,   -- the latest submitted version (0: none)
    data            bytea,            -- sealed: the details (draft or submitted); NULL: none
    revision        int NOT NULL DEFAULT 0,   -- optimistic concurrency: bumped by every save
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_by_district ON enrollment.applications (district, details_status);

CREATE TABLE enrollment.versions (
    account_no      char(8) NOT NULL REFERENCES enrollment.applications (account_no)
                        ON DELETE CASCADE,
    number          int NOT NULL CHECK (number >= 1),
    data            bytea NOT NULL,   -- sealed under the family's key
    submitted_at    timestamptz NOT NULL,
    PRIMARY KEY (account_no, number)
);

REVOKE ALL ON SCHEMA enrollment FROM PUBLIC;
GRANT USAGE ON SCHEMA enrollment TO platform_enrollment;
GRANT SELECT, INSERT, UPDATE, DELETE ON enrollment.applications TO platform_enrollment;
-- Versions are kept as submitted: added, read, deleted with their family, never changed.
GRANT SELECT, INSERT, DELETE ON enrollment.versions TO platform_enrollment;
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA enrollment
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO platform_enrollment;
ALTER DEFAULT PRIVILEGES FOR ROLE platform_owner IN SCHEMA enrollment
    GRANT USAGE ON SEQUENCES TO platform_enrollment;
