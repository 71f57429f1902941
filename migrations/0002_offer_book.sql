-- The order book keeps each offer's decoded form next to its signed bytes, so queries never re-verify,
-- and withdrawals as their own rows, so a tombstone that arrives before its offer still wins.

ALTER TABLE offers ADD COLUMN offer_json TEXT NOT NULL DEFAULT '{}';

CREATE TABLE withdrawals (
    offer_id     TEXT    PRIMARY KEY,
    maker        TEXT    NOT NULL,       -- PeerId
    signed       BLOB    NOT NULL,       -- the SignedWithdrawal as received or published
    withdrawn_at INTEGER NOT NULL,
    received_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX offers_maker ON offers (maker);
