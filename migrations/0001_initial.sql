-- Souk's first schema. Money is never a float: amounts are integers in base units, prices decimal text.

CREATE TABLE identity (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    peer_id     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL            -- unix milliseconds
) STRICT;

CREATE TABLE settings (
    key         TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,           -- JSON
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE peers (
    peer_id     TEXT    PRIMARY KEY,
    addresses   TEXT    NOT NULL DEFAULT '[]',  -- JSON array of multiaddrs
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
) STRICT;

CREATE TABLE offers (
    id          TEXT    PRIMARY KEY,        -- uuid v7
    maker       TEXT    NOT NULL,           -- PeerId
    side        TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    base        TEXT    NOT NULL,
    quote       TEXT    NOT NULL,
    signed      BLOB    NOT NULL,           -- the SignedOffer exactly as received or published
    is_mine     INTEGER NOT NULL DEFAULT 0 CHECK (is_mine IN (0, 1)),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    withdrawn_at INTEGER,
    last_seen   INTEGER NOT NULL
) STRICT;
CREATE INDEX offers_market ON offers (base, quote, side);
CREATE INDEX offers_expiry ON offers (expires_at);

CREATE TABLE trades (
    id              TEXT    PRIMARY KEY,    -- uuid v7
    offer_id        TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('maker', 'taker', 'arbitrator')),
    counterparty    TEXT    NOT NULL,       -- PeerId
    state           TEXT    NOT NULL,
    terms           TEXT    NOT NULL,       -- JSON
    transcript_hash BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX trades_state ON trades (state);

-- The signed event log of each trade: append-only, enforced below.
CREATE TABLE trade_events (
    trade_id    TEXT    NOT NULL REFERENCES trades (id),
    seq         INTEGER NOT NULL CHECK (seq >= 0),
    kind        TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    signer      TEXT    NOT NULL,           -- PeerId
    signature   BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (trade_id, seq)
) STRICT;

CREATE TRIGGER trade_events_no_update BEFORE UPDATE ON trade_events
BEGIN SELECT RAISE(ABORT, 'trade_events is append-only'); END;
CREATE TRIGGER trade_events_no_delete BEFORE DELETE ON trade_events
BEGIN SELECT RAISE(ABORT, 'trade_events is append-only'); END;

CREATE TABLE messages (
    id          TEXT    PRIMARY KEY,        -- uuid v7
    trade_id    TEXT    NOT NULL REFERENCES trades (id),
    outgoing    INTEGER NOT NULL CHECK (outgoing IN (0, 1)),
    seq         INTEGER NOT NULL CHECK (seq >= 0),
    body        TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL,
    delivered_at INTEGER,
    read_at     INTEGER,
    UNIQUE (trade_id, outgoing, seq)
) STRICT;
