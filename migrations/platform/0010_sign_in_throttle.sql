-- Failed sign-ins per account and client address (not per account alone, which would let
-- anyone lock an owner out): after a few, each failure makes that address wait twice as
-- long before its next try. A sign-in clears its row; rows older than a day are forgotten.
-- Expand-only.
CREATE TABLE platform.sign_in_throttle (
    key            text        PRIMARY KEY,
    failures       integer     NOT NULL,
    last_failed_at timestamptz NOT NULL
);
CREATE INDEX sign_in_throttle_last_failed ON platform.sign_in_throttle (last_failed_at);
