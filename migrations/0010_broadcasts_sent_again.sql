-- A transaction this node broadcast is broadcast again when the chain node no longer knows it (restarted
-- without its mempool, evicted it): the release or resolution it broadcast is kept whole here. Returns keep
-- theirs in the `returns` JSON.
ALTER TABLE trade_escrow ADD COLUMN broadcast_tx BLOB;
