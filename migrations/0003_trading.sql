-- The negotiation channel of each trade (issue 4): its keys (sealed at rest), sequence state, the offer as
-- it was taken, and the persistent outbox of envelopes waiting for delivery.

CREATE TABLE trade_channels (
    trade_id     TEXT    PRIMARY KEY REFERENCES trades (id),
    peer         TEXT    NOT NULL,           -- the counterparty's PeerId
    offer_json   TEXT    NOT NULL,           -- the offer as taken: the book may forget it, the trade may not
    sealed_keys  BLOB    NOT NULL,           -- ChannelKeys, ChaCha20-Poly1305 under the identity's storage key
    send_next    INTEGER NOT NULL CHECK (send_next >= 0),
    receiver     BLOB    NOT NULL            -- the channel Receiver (next sequence number, held envelopes)
) STRICT;

-- Signed envelopes exactly as sent: ciphertext only. Kept after delivery so a gap can be re-sent.
CREATE TABLE outbox (
    trade_id     TEXT    NOT NULL REFERENCES trades (id),
    seq          INTEGER NOT NULL CHECK (seq >= 0),
    peer         TEXT    NOT NULL,
    envelope     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error   TEXT,
    PRIMARY KEY (trade_id, seq)
) STRICT;
CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE delivered_at IS NULL;
CREATE INDEX messages_trade ON messages (trade_id, sent_at);
