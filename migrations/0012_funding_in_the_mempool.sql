-- Funding seen in the mempool before any block holds it (issue 12): shown at once as "seen, unconfirmed",
-- and noted when it leaves the mempool without confirming.
ALTER TABLE trade_escrow ADD COLUMN pending_funding TEXT NOT NULL DEFAULT '[]'; -- JSON array of PendingFunding
