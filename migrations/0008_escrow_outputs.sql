-- The escrow as two outputs, one per funder (issue 11): the seller's output (amount and deposit) keeps the
-- `escrow_address` column, the buyer's deposit gets its own; the backup arbitrator whose key opens the
-- escrow's second branch after its timelock; what each output holds; and the returns of coins that are
-- nobody else's (a cancelled or expired trade's funding, surplus, late coins), as the watcher made them.
ALTER TABLE trade_escrow ADD COLUMN buyer_escrow_address TEXT;
ALTER TABLE trade_escrow ADD COLUMN backup_arbitrator TEXT;         -- PeerId
ALTER TABLE trade_escrow ADD COLUMN backup_arbitrator_pubkey BLOB;
ALTER TABLE trade_escrow ADD COLUMN seller_funded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trade_escrow ADD COLUMN buyer_funded INTEGER NOT NULL DEFAULT 0;
-- JSON array of {funder, outpoints, amount, address, txid, how}: a return this node signed, co-signed or
-- broadcast; `txid` once it is on its way.
ALTER TABLE trade_escrow ADD COLUMN returns TEXT NOT NULL DEFAULT '[]';
-- The counterparty's signed return of this party's own coins, waiting for the watcher to check, co-sign
-- and broadcast it (no chain call runs while a step is received).
ALTER TABLE trade_escrow ADD COLUMN incoming_return BLOB;
-- This party's dispute case reached the backup arbitrator (the first did not answer and the backup lock
-- passed): from then on the backup decides.
ALTER TABLE trade_escrow ADD COLUMN backup_case_sent INTEGER NOT NULL DEFAULT 0;
