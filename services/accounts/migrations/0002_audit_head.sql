-- The audit chain's head: one row holding the latest digest. An append locks this row (and
-- reads the newest digest through the lock), then inserts the entry and moves the head in one
-- statement, so the chain is held only from there to the commit.
CREATE TABLE accounts.audit_head (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    digest          char(64) NOT NULL
);
INSERT INTO accounts.audit_head (digest)
    SELECT coalesce((SELECT digest FROM accounts.audit_log ORDER BY id DESC LIMIT 1),
                    repeat('0', 64));
