-- Which party acknowledged the arbitrator's signed resolution, so that a restarted arbitrator sends it
-- again to a party that has not: until both have it, the escrow may still be locked.
ALTER TABLE disputes ADD COLUMN buyer_has_resolution INTEGER NOT NULL DEFAULT 0
    CHECK (buyer_has_resolution IN (0, 1));
ALTER TABLE disputes ADD COLUMN seller_has_resolution INTEGER NOT NULL DEFAULT 0
    CHECK (seller_has_resolution IN (0, 1));
