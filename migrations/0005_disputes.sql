-- Disputes (issue 5): on the parties' side, whether this node's case reached the arbitrator; on the
-- arbitrator's side, the cases it received and its decision.

ALTER TABLE trade_escrow ADD COLUMN case_sent INTEGER NOT NULL DEFAULT 0 CHECK (case_sent IN (0, 1));
-- When the release must be on the chain once the seller confirmed the payment.
ALTER TABLE trade_escrow ADD COLUMN release_deadline INTEGER;

CREATE TABLE disputes (
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
    resolved_to     TEXT    CHECK (resolved_to IN ('buyer', 'seller')),
    resolved_at     INTEGER,
    resolution      BLOB                   -- the signed resolution sent to the parties
) STRICT;
