-- A family that cancels while a text to its phone is still pending (not yet sent, or sent and
-- not yet marked): the text is still sent, since it may be owed to another account on the same
-- phone, and is then deleted instead of being kept as final.
ALTER TABLE notify.messages ADD COLUMN forget_when_final boolean NOT NULL DEFAULT false;
