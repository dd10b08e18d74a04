-- 学校预登记 and 查看入学结果 (rules/placement.py): the school a family is pre-registered at and
-- whether the district approved it, in clear beside the sealed state (for the districts'
-- lists by school), and each district's publication of its results.
--
-- Both columns are written by every save, like the statuses of 0003.
ALTER TABLE enrollment.applications
    ADD COLUMN school_code text,
    ADD COLUMN placement_status text
        CHECK (placement_status IN ('preregistered', 'approved')),
    ADD CONSTRAINT placement_has_school CHECK ((school_code IS NULL) = (placement_status IS NULL));
-- A school's pupils, in account order (keyset pages).
CREATE INDEX applications_by_school ON enrollment.applications (district, school_code, account_no)
    WHERE school_code IS NOT NULL;

-- A district publishes once: from `published_at` its families see their results, and those
-- with an approved place were each texted once (`placed` of them). Kept as written.
CREATE TABLE enrollment.publications (
    district      text PRIMARY KEY,
    published_at  timestamptz NOT NULL DEFAULT now(),
    staff_id      text NOT NULL,
    placed        int NOT NULL CHECK (placed >= 0)
);
REVOKE UPDATE, DELETE ON enrollment.publications FROM platform_enrollment;
