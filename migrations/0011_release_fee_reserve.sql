-- A release's fee reserve (issue 11): a small output of the release to the buyer's own per-trade key,
-- which the buyer's node spends in a child transaction: to lift a release stuck at a low fee (child pays
-- for parent) or, once the release confirmed, to send the reserve on to the buyer's payout address.
ALTER TABLE trade_escrow ADD COLUMN release_height INTEGER;                 -- the tip when this node broadcast the release
ALTER TABLE trade_escrow ADD COLUMN anchor_tx BLOB;                         -- the child, kept to send again
ALTER TABLE trade_escrow ADD COLUMN anchor_how TEXT;                        -- 'bumped' or 'forwarded'
ALTER TABLE trade_escrow ADD COLUMN anchor_done INTEGER NOT NULL DEFAULT 0; -- 1 once the child confirmed
