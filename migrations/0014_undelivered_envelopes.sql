-- Envelopes still to deliver, by trade in order and by peer: the sender's "next envelope" query and the
-- acknowledgement no longer step through every envelope the trade ever delivered (a long chat made
-- each send slower: 70 envelopes/s fell to 37 in the chat-flood test).
CREATE INDEX outbox_undelivered ON outbox (trade_id, seq) WHERE delivered_at IS NULL;
CREATE INDEX outbox_undelivered_peer ON outbox (peer) WHERE delivered_at IS NULL;
