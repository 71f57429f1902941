-- Each party's answer to the arbitrator's signed resolution: NULL until it answered, 'stored', or
-- 'refused: REASON' (the party's own words, cut to 500 characters). A restarted arbitrator sends the
-- resolution again to a party that has not answered: until the winner has it, the escrow stays locked.
ALTER TABLE disputes ADD COLUMN buyer_answer TEXT;
ALTER TABLE disputes ADD COLUMN seller_answer TEXT;
