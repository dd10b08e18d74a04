-- District systems (services/enrollment/district_client.py): the statuses they filter their
-- applications on, in clear beside the sealed state (never a name or a document number), and
-- the audit of every call they make.
--
-- Both statuses are written by every save; an application not saved since this migration has
-- NULL in both until its next save (its state is sealed: SQL cannot read it).
ALTER TABLE enrollment.applications
    ADD COLUMN verification_status text
        CHECK (verification_status IN ('pending', 'verified', 'failed')),
    -- NULL for 本市户籍 (no review); not_started for 非本市户籍 before the district starts
    ADD COLUMN review_status text
        CHECK (review_status IN ('not_started', 'in_review', 'approved', 'returned'));
-- A district's list: its applications in account order (keyset pages).
CREATE INDEX applications_by_district_account ON enrollment.applications (district, account_no);

-- Every call of a district system: who (the district from its broker user, the staff id the
-- call names, the reviewing agency of a review item), why, which application (NULL: a list),
-- which method, and whether it was refused (another district's family). Kept as written: the
-- family sees the looks at its data (never the staff id).
CREATE TABLE enrollment.district_access (
    id          bigserial PRIMARY KEY,
    district    text NOT NULL,
    staff_id    text NOT NULL,
    agency      text,
    purpose     text,
    account_no  char(8),
    method      text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'refused')),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX district_access_by_account ON enrollment.district_access (account_no, at);
REVOKE UPDATE, DELETE ON enrollment.district_access FROM platform_enrollment;
