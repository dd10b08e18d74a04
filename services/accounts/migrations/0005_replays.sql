-- A retried request after an unknown outcome gets the first answer: the action a code
-- completed records, on the spent code, a keyed hash of what a retry must repeat (the code,
-- the phone and document or the session, the Idempotency-Key); rules/sms_codes.py decides.
ALTER TABLE accounts.sms_codes ADD COLUMN replay_hash bytea;
CREATE INDEX sms_codes_by_replay ON accounts.sms_codes (replay_hash) WHERE replay_hash IS NOT NULL;
