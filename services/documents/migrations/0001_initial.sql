-- Runs as platform_owner (common/migrations.py). documents logs in as platform_documents; no
-- other role may use the schema. The record of handled events is a common table, made after
-- this file (common/migrations.py).
REVOKE ALL ON SCHEMA documents FROM PUBLIC;
GRANT USAGE ON SCHEMA documents TO platform_documents;

-- The family's form of its current version, rendered once per (version, data) and kept until
-- the data changes or the family cancels: one row per account. The PDF (every field of the
-- family's details, unmasked) is sealed (services.documents.storage), bound to its row and
-- version. issued_at is the version's first issue: the QR code's token binds it, so a form
-- rendered again within its version (the template changed, a label) keeps it.
CREATE TABLE documents.forms (
    account_no  text PRIMARY KEY,
    version     integer NOT NULL CHECK (version >= 1),
    digest      text NOT NULL,         -- of what the form prints, and of the template
    issued_at   timestamptz NOT NULL,
    size        integer NOT NULL CHECK (size > 0),
    pdf_enc     bytea NOT NULL,
    rendered_at timestamptz NOT NULL DEFAULT now()
);

-- Accounts whose cancellation was handled: a form rendered while the cancellation was being
-- handled is not stored after it (common/cancelled.py). Kept for good, never changed.
CREATE TABLE documents.cancellations (
    account_no   text PRIMARY KEY,
    cancelled_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON documents.forms TO platform_documents;
GRANT SELECT, INSERT ON documents.cancellations TO platform_documents;
