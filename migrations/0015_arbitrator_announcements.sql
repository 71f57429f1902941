-- The arbitrators' announcements this node found and verified, the newest of each kept: a trade's
-- escrow is set up with the arbitrator's keys even when every DHT copy of its announcement is gone by
-- then (the nodes that held it went away; only the arbitrator announces again, twice a day). Each is
-- verified again when read.
CREATE TABLE arbitrator_announcements (
    arbitrator TEXT NOT NULL,
    chain TEXT NOT NULL,
    network TEXT NOT NULL,
    signed BLOB NOT NULL,
    announced_at INTEGER NOT NULL,
    PRIMARY KEY (arbitrator, chain, network)
) STRICT;
