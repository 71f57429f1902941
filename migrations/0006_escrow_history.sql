-- What the escrow watcher saw (issue 6): the transactions that funded each escrow, first seen first, so
-- the shells can show them even after the escrow is spent.
ALTER TABLE trade_escrow ADD COLUMN funding_txids TEXT NOT NULL DEFAULT '[]';  -- JSON array of txids
