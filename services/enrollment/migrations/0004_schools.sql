-- The schools of each district, reference data imported from CSV (rules/schools.py,
-- `python -m services.enrollment.schools import`). Nothing personal. Numbered 0004: 0003 is
-- the district RPC's; the two are independent, so either may be applied first.
CREATE TABLE enrollment.schools (
    district    text NOT NULL,
    code        text NOT NULL CHECK (code ~ '^[0-9]{10}$'),   -- 学校标识码
    name        text NOT NULL CHECK (name <> ''),
    kind        text NOT NULL CHECK (kind IN ('公办', '民办', '公办寄宿')),
    stage       text NOT NULL CHECK (stage IN ('小学', '初中')),
    address     text NOT NULL CHECK (address <> ''),
    plan_seats  int NOT NULL CHECK (plan_seats >= 0),
    demo        boolean NOT NULL,   -- made up, for the demo: never in production
    updated_at  timestamptz NOT NULL DEFAULT now(),   -- when last added or changed
    PRIMARY KEY (district, code)
);
-- The service's rights come from 0001's default privileges (read, add, change, delete).
