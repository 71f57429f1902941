-- Seed-only recovery of open escrows (docs/protocol.md, "Recovery from the seed words").

-- Copies this node keeps for others: as the counterparty of the owner's trade (while the trade is
-- open), or as the trade's arbitrator (`arbitrated`, no trade row here; while copies keep coming, and
-- 90 days after the last). The newest per trade and owner, sealed under a key only the owner's seed
-- derives. This node provides each copy's `locator` in the DHT while it keeps it.
CREATE TABLE recovery_copies (
    trade_id    TEXT    NOT NULL,
    owner       TEXT    NOT NULL,           -- the PeerId whose copy this is
    locator     BLOB    NOT NULL,           -- 32 bytes: the owner's DHT key for finding its copies
    record      BLOB    NOT NULL,           -- the sealed record, opaque here
    received_at INTEGER NOT NULL,
    arbitrated  INTEGER NOT NULL DEFAULT 0 CHECK (arbitrated IN (0, 1)),
    events      INTEGER NOT NULL DEFAULT 0, -- the trade's signed steps in the copy, as the owner said
    PRIMARY KEY (trade_id, owner)
) STRICT;
CREATE INDEX recovery_copies_owner ON recovery_copies (owner);

-- What each holder (the counterparty, the arbitrator) last stored of this node's copy of a trade.
CREATE TABLE recovery_sent (
    trade_id    TEXT    NOT NULL REFERENCES trades (id),
    holder      TEXT    NOT NULL,           -- PeerId
    digest      BLOB    NOT NULL,           -- SHA-256 of the record's rows (not of when it was made)
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (trade_id, holder)
) STRICT;
