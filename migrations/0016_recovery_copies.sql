-- Seed-only recovery of open escrows (docs/protocol.md, "Recovery from the seed words").

-- Copies this node keeps for its counterparties: one per trade, the newest, sealed under a key only the
-- owner's seed derives. While the trade is open this node provides `locator` in the DHT.
CREATE TABLE recovery_copies (
    trade_id    TEXT    PRIMARY KEY REFERENCES trades (id),
    owner       TEXT    NOT NULL,           -- the counterparty's PeerId
    locator     BLOB    NOT NULL,           -- 32 bytes: the owner's DHT key for finding its copies
    record      BLOB    NOT NULL,           -- the sealed record, opaque here
    received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX recovery_copies_owner ON recovery_copies (owner);

-- What this node's counterparty last stored of its own copy of a trade.
CREATE TABLE recovery_sent (
    trade_id    TEXT    PRIMARY KEY REFERENCES trades (id),
    digest      BLOB    NOT NULL,           -- SHA-256 of the record's rows (not of when it was made)
    sent_at     INTEGER NOT NULL
) STRICT;
