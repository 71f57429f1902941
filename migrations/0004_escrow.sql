-- The escrow of a trade (issue 5): both parties' per-trade keys and addresses, the arbitrator's key, the
-- agreed escrow address, the amounts it must hold, deadlines, and the release as it progresses.

CREATE TABLE trade_escrow (
    trade_id          TEXT    PRIMARY KEY REFERENCES trades (id),
    chain             TEXT    NOT NULL,
    network           TEXT    NOT NULL,
    side              TEXT    NOT NULL CHECK (side IN ('buyer', 'seller')),
    my_pubkey         BLOB    NOT NULL,
    my_address        TEXT,               -- where this party's coins go (buyer: payout; seller: refund)
    keys_sent         INTEGER NOT NULL DEFAULT 0 CHECK (keys_sent IN (0, 1)),
    peer_pubkey       BLOB,
    peer_address      TEXT,
    arbitrator        TEXT,               -- PeerId
    arbitrator_pubkey BLOB,
    escrow_address    TEXT,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    buyer_deposit     INTEGER NOT NULL CHECK (buyer_deposit >= 0),
    seller_deposit    INTEGER NOT NULL CHECK (seller_deposit >= 0),
    funding_deadline  INTEGER,
    payment_deadline  INTEGER,
    funded_amount     INTEGER NOT NULL DEFAULT 0,
    funding_confirmations INTEGER NOT NULL DEFAULT 0,
    release_psbt      BLOB,               -- the seller-signed release, as checked by the buyer
    release_txid      TEXT,
    release_confirmations INTEGER NOT NULL DEFAULT 0
) STRICT;
