-- Envelopes that arrived ahead of a gap, authenticated and decrypted, each stored once when it arrives
-- and deleted when delivered (before: the whole held set was rewritten inside the channel's receiver
-- on every arrival, up to 255 envelopes of 60 KiB each).
CREATE TABLE held_envelopes (
    trade_id TEXT NOT NULL REFERENCES trade_channels (trade_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    plaintext BLOB NOT NULL,
    PRIMARY KEY (trade_id, seq)
) STRICT;
