-- Disputes that always end (issue 11): a decision may split the escrow, carries the arbitrator's reason
-- and a round (a new decision after a party refused one counts up); a party sends its case again now and
-- then until the dispute is decided, so an arbitrator that lost its database gets it back.

-- SQLite cannot change a CHECK: the table is rebuilt with 'split' allowed.
CREATE TABLE disputes_new (
    trade_id        TEXT    PRIMARY KEY,   -- not a trade of this node: the arbitrator is no party
    chain           TEXT    NOT NULL,
    network         TEXT    NOT NULL,
    buyer           TEXT    NOT NULL,      -- PeerId
    seller          TEXT    NOT NULL,      -- PeerId
    buyer_address   TEXT    NOT NULL,      -- from the buyer's own signed escrow-key step
    seller_address  TEXT    NOT NULL,
    escrow_address  TEXT    NOT NULL,
    amount          INTEGER NOT NULL,
    cases           TEXT    NOT NULL,      -- JSON: each party's case as received
    opened_at       INTEGER NOT NULL,
    resolved_to     TEXT    CHECK (resolved_to IN ('buyer', 'seller', 'split')),
    resolved_at     INTEGER,
    resolution      BLOB,                  -- the signed resolution sent to the parties (the latest)
    buyer_answer    TEXT,
    seller_answer   TEXT,
    buyer_share     INTEGER,               -- base units of the escrow each party gets, before the fee
    seller_share    INTEGER,
    decision_reason TEXT,                  -- the arbitrator's words, shown to both parties
    round           INTEGER NOT NULL DEFAULT 0  -- 1 for the first decision, 2 for the next, …
) STRICT;
INSERT INTO disputes_new (trade_id, chain, network, buyer, seller, buyer_address, seller_address,
    escrow_address, amount, cases, opened_at, resolved_to, resolved_at, resolution, buyer_answer,
    seller_answer, round)
SELECT trade_id, chain, network, buyer, seller, buyer_address, seller_address, escrow_address, amount,
    cases, opened_at, resolved_to, resolved_at, resolution, buyer_answer, seller_answer,
    CASE WHEN resolution IS NULL THEN 0 ELSE 1 END
FROM disputes;
DROP TABLE disputes;
ALTER TABLE disputes_new RENAME TO disputes;

-- When this party last sent its case (unix ms); it is sent again after a while until a decision comes.
ALTER TABLE trade_escrow ADD COLUMN case_sent_at INTEGER;
