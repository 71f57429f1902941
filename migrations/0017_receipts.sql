-- Reputation: the receipts of this node's own ended trades, its ratings, and what its chain said about
-- other peers' receipts (docs/protocol.md, "Reputation").

-- One receipt per ended trade of this node. The maker builds and signs the body and asks the taker to
-- countersign (`taker_signature` NULL until it did; `attempts`, `next_attempt` pace the asking).
CREATE TABLE receipts (
    trade_id        TEXT    PRIMARY KEY REFERENCES trades (id),
    id              BLOB    NOT NULL,       -- SHA-256 of the body
    body            BLOB    NOT NULL,       -- postcard ReceiptBody
    maker_signature BLOB    NOT NULL,
    taker_signature BLOB,
    counterparty    TEXT    NOT NULL,       -- PeerId
    ended_at        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    INTEGER NOT NULL DEFAULT 0,
    refused         TEXT                    -- the taker's last refusal, in its words
) STRICT;

-- This node's rating of the counterparty in one of its trades (a signed Rating).
CREATE TABLE receipt_ratings (
    trade_id    TEXT    PRIMARY KEY REFERENCES receipts (trade_id),
    rating      BLOB    NOT NULL,           -- postcard SignedRating
    at          INTEGER NOT NULL
) STRICT;

-- What this node's chain said about a receipt's escrow (verified or contradicted; a receipt it could
-- not check is asked about again).
CREATE TABLE receipt_checks (
    id          BLOB    PRIMARY KEY,        -- the receipt's id
    result      TEXT    NOT NULL,           -- JSON ChainCheck
    checked_at  INTEGER NOT NULL
) STRICT;
