//! Arbitrators as this node keeps them: their announcements seen verified (`arbitrator_announcements`),
//! so a trade that took one still sets up its escrow when every DHT copy is gone, and the lists of
//! accepted and excluded arbitrators saved in Settings.

use libp2p::PeerId;
use sqlx::SqlitePool;

use super::sql;
use crate::{
    arbiter::Announcement,
    error::Result,
    escrow::{Chain, Network},
    preferences::{self, Preferences},
};

/// The arbitrators accepted and excluded in Settings; none when nothing readable is saved.
pub(in crate::trading) async fn saved_arbitrator_lists(
    pool: &SqlitePool,
) -> Result<(Vec<PeerId>, Vec<PeerId>)> {
    let saved: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(preferences::KEY)
        .fetch_optional(pool)
        .await
        .map_err(sql)?;
    Ok(saved
        .and_then(|json| serde_json::from_str::<Preferences>(&json).ok())
        .map(|p| p.arbitrator_lists())
        .unwrap_or_default())
}

/// The announcement kept for `arbitrator` on `chain` and `network` (signed, to verify again).
pub(in crate::trading) async fn kept_announcement(
    pool: &SqlitePool,
    arbitrator: &PeerId,
    chain: Chain,
    network: Network,
) -> Result<Option<Vec<u8>>> {
    sqlx::query_scalar(
        "SELECT signed FROM arbitrator_announcements WHERE arbitrator = ? AND chain = ? AND network = ?",
    )
    .bind(arbitrator.to_base58())
    .bind(chain.to_string())
    .bind(network.core_name())
    .fetch_optional(pool)
    .await
    .map_err(sql)
}

/// Keeps a verified announcement unless a newer one of the same arbitrator is kept already.
pub(in crate::trading) async fn keep_announcement(
    pool: &SqlitePool,
    announcement: &Announcement,
    signed: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO arbitrator_announcements (arbitrator, chain, network, signed, announced_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (arbitrator, chain, network) DO UPDATE \
         SET signed = excluded.signed, announced_at = excluded.announced_at \
         WHERE excluded.announced_at > arbitrator_announcements.announced_at",
    )
    .bind(announcement.arbitrator.to_base58())
    .bind(announcement.chain.to_string())
    .bind(announcement.network.core_name())
    .bind(signed)
    .bind(announcement.at)
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(())
}
