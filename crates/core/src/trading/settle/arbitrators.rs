//! Arbitrators as settlement needs them: the taker's approval of an offer's arbitrators before any coin
//! moves, their announcements in the DHT, and this node's own announcement when it is one.

use std::time::Duration;

use libp2p::PeerId;

use super::{backend, chain_of, millis, refused, sql};
use crate::{
    arbiter::{Announcement, SignedAnnouncement, record_key},
    error::{Error, Result},
    escrow::{Chain, Network},
    offer::{EscrowKind, Offer},
    store::now_ms,
    trading::desk::Inner,
};

/// The longest an arbitrator's announcement may go unrenewed (arbitrators renew it twice a day) and still
/// be trusted with the third key of a new trade.
const ANNOUNCEMENT_FRESH: Duration = Duration::from_secs(3 * 24 * 3600);

/// The taker approves the offer's arbitrators before any coin moves: neither party, in its accepted set
/// (`[trade] arbitrators` and `exclude_arbitrators` of souk.toml, with the lists saved in Settings), and,
/// when this node settles on the offer's chain, announced in the DHT recently.
pub(in crate::trading) async fn approve_arbitrators(inner: &Inner, offer: &Offer) -> Result<()> {
    let EscrowKind::Multisig { arbitrators } = &offer.escrow else {
        return Ok(());
    };
    let saved: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(crate::preferences::KEY)
        .fetch_optional(&inner.pool)
        .await
        .map_err(sql)?;
    let (accepted, excluded) = saved
        .and_then(|json| serde_json::from_str::<crate::preferences::Preferences>(&json).ok())
        .map(|p| p.arbitrator_lists())
        .unwrap_or_default();
    for arbitrator in arbitrators {
        if *arbitrator == offer.maker || *arbitrator == inner.me.peer {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is a party of this trade: nobody may hold two of the escrow's keys"
            )));
        }
        if inner.config.exclude_arbitrators.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is one you excluded ([trade] exclude_arbitrators)"
            )));
        }
        if !inner.config.arbitrators.is_empty() && !inner.config.arbitrators.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is not one you accept ([trade] arbitrators)"
            )));
        }
        if excluded.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is one you excluded (Settings)"
            )));
        }
        if !accepted.is_empty() && !accepted.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is not one you accept (Settings)"
            )));
        }
        if let Some(backend) = &inner.chain
            && backend.chain() == chain_of(offer.base)
        {
            let announcement =
                find_arbitrator(inner, arbitrator, backend.chain(), backend.network()).await?;
            if now_ms() - announcement.at > millis(ANNOUNCEMENT_FRESH) {
                return Err(Error::InvalidInput(format!(
                    "arbitrator {arbitrator} has not renewed its announcement for {} days: it may be gone",
                    (now_ms() - announcement.at) / 86_400_000
                )));
            }
        }
    }
    Ok(())
}

/// The arbitrator's announcement for the chain, from the DHT.
pub(super) async fn find_arbitrator(
    inner: &Inner,
    arbitrator: &PeerId,
    chain: Chain,
    network: Network,
) -> Result<Announcement> {
    let key = record_key(arbitrator, chain, network);
    let value = inner.net.get_record(key).await?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "arbitrator {arbitrator} has no announcement for {} {} in the DHT (is it online with --arbitrator?)",
            chain.name(),
            network
        ))
    })?;
    let announcement = SignedAnnouncement::verify(&value).map_err(refused)?;
    if announcement.arbitrator != *arbitrator
        || announcement.chain != chain
        || announcement.network != network
    {
        return Err(refused(
            "the arbitrator's announcement is for someone or something else",
        ));
    }
    Ok(announcement)
}

/// An arbitrator's announcement, published when the node starts as one.
pub(in crate::trading) async fn announce_arbitrator(inner: &Inner) -> Result<()> {
    let backend = backend(inner)?;
    let announcement = Announcement::of(
        &inner.escrow_root,
        inner.me.peer,
        backend.chain(),
        backend.network(),
        x25519_dalek::PublicKey::from(&inner.me.channel_secret).to_bytes(),
        now_ms(),
    )
    .map_err(refused)?;
    let signed = announcement.sign(&inner.me.keypair).map_err(refused)?;
    let key = record_key(&inner.me.peer, backend.chain(), backend.network());
    inner
        .net
        .put_record(key, signed.to_bytes(), Duration::from_secs(24 * 3600))
        .await?;
    tracing::info!(chain = %backend.chain(), network = %backend.network(), "announced as an arbitrator");
    Ok(())
}
