//! Arbitrators as settlement needs them: the taker's approval of an offer's arbitrators before any coin
//! moves, their announcements in the DHT, and this node's own announcement when it is one.

use std::time::Duration;

use libp2p::PeerId;

use super::{SettleError, backend, chain_of, escrow_refusal, millis};
use crate::{
    arbiter::{Announcement, SignedAnnouncement, record_key},
    error::Result,
    escrow::{Chain, Network},
    offer::{EscrowKind, Offer},
    store::now_ms,
    trading::{desk::Inner, store},
};

/// The longest an arbitrator's announcement may go unrenewed (arbitrators renew it twice a day) and still
/// be trusted with the third key of a new trade.
const ANNOUNCEMENT_FRESH: Duration = Duration::from_secs(3 * 24 * 3600);

/// The taker approves the offer's arbitrators before any coin moves: neither party, in its accepted set
/// (`[trade] arbitrators` and `exclude_arbitrators` of souk.toml, with the lists saved in Settings), and,
/// when this node settles on the offer's chain, announced in the DHT recently.
pub(in crate::trading) async fn approve_arbitrators(
    inner: &Inner,
    offer: &Offer,
) -> std::result::Result<(), SettleError> {
    let EscrowKind::Multisig { arbitrators } = &offer.escrow else {
        return Ok(());
    };
    let (accepted, excluded) = store::saved_arbitrator_lists(&inner.pool).await?;
    for arbitrator in arbitrators {
        if *arbitrator == offer.maker || *arbitrator == inner.me.peer {
            return Err(SettleError::ArbitratorIsParty(*arbitrator));
        }
        if inner.config.exclude_arbitrators.contains(arbitrator) {
            return Err(SettleError::ArbitratorExcluded {
                arbitrator: *arbitrator,
                by: "[trade] exclude_arbitrators",
            });
        }
        if !inner.config.arbitrators.is_empty() && !inner.config.arbitrators.contains(arbitrator) {
            return Err(SettleError::ArbitratorNotAccepted {
                arbitrator: *arbitrator,
                by: "[trade] arbitrators",
            });
        }
        if excluded.contains(arbitrator) {
            return Err(SettleError::ArbitratorExcluded {
                arbitrator: *arbitrator,
                by: "Settings",
            });
        }
        if !accepted.is_empty() && !accepted.contains(arbitrator) {
            return Err(SettleError::ArbitratorNotAccepted {
                arbitrator: *arbitrator,
                by: "Settings",
            });
        }
        if let Some(backend) = &inner.chain
            && backend.chain() == chain_of(offer.base)
        {
            let announcement =
                find_arbitrator(inner, arbitrator, backend.chain(), backend.network()).await?;
            if now_ms() - announcement.at > millis(ANNOUNCEMENT_FRESH) {
                return Err(SettleError::ArbitratorStale {
                    arbitrator: *arbitrator,
                    days: (now_ms() - announcement.at) / 86_400_000,
                });
            }
        }
    }
    Ok(())
}

/// The arbitrator's announcement for the chain: from the DHT, kept here when it verifies; the one kept
/// here when the DHT has none (or cannot be asked) — every copy can vanish with the nodes that held it,
/// and a trade that took this arbitrator must still set up its escrow.
pub(super) async fn find_arbitrator(
    inner: &Inner,
    arbitrator: &PeerId,
    chain: Chain,
    network: Network,
) -> std::result::Result<Announcement, SettleError> {
    let key = record_key(arbitrator, chain, network);
    let from_dht = match inner.net.get_record(key).await {
        Ok(found) => found,
        Err(e) => {
            tracing::debug!(%arbitrator, error = %e, "the DHT was not asked for the announcement");
            None
        }
    };
    // A copy that does not verify is someone's junk: the kept one still serves.
    let mut refusal = None;
    if let Some(value) = from_dht {
        match checked(&value, arbitrator, chain, network) {
            Ok(announcement) => {
                store::keep_announcement(&inner.pool, &announcement, &value).await?
            }
            Err(e) => refusal = Some(e),
        }
    }
    // The newest verified one: the DHT's, or one kept from before when the DHT now serves an older
    // copy.
    let kept = store::kept_announcement(&inner.pool, arbitrator, chain, network).await?;
    match (kept, refusal) {
        (Some(value), _) => checked(&value, arbitrator, chain, network),
        (None, Some(refusal)) => Err(refusal),
        (None, None) => Err(SettleError::ArbitratorUnannounced {
            arbitrator: *arbitrator,
            chain: chain.name(),
            network,
        }),
    }
}

/// `value` verified as `arbitrator`'s announcement for `chain` on `network`.
fn checked(
    value: &[u8],
    arbitrator: &PeerId,
    chain: Chain,
    network: Network,
) -> std::result::Result<Announcement, SettleError> {
    let announcement = SignedAnnouncement::verify(value)
        .map_err(|e| SettleError::BadAnnouncement(e.to_string()))?;
    if announcement.arbitrator != *arbitrator
        || announcement.chain != chain
        || announcement.network != network
    {
        return Err(SettleError::BadAnnouncement(
            "the arbitrator's announcement is for someone or something else".into(),
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
    .map_err(escrow_refusal)?;
    let signed = announcement
        .sign(&inner.me.keypair)
        .map_err(escrow_refusal)?;
    let key = record_key(&inner.me.peer, backend.chain(), backend.network());
    inner
        .net
        .put_record(key, signed.to_bytes(), Duration::from_secs(24 * 3600))
        .await?;
    tracing::info!(chain = %backend.chain(), network = %backend.network(), "announced as an arbitrator");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::find_arbitrator;
    use crate::{
        arbiter::{Announcement, record_key},
        escrow::{Chain, Network},
        identity::Identity,
        store::now_ms,
        trading::tests::{fixture, identity},
    };

    fn announced(arbitrator: &Identity, at: i64) -> Vec<u8> {
        Announcement::of(
            arbitrator.escrow_root(),
            arbitrator.peer_id(),
            Chain::Ltc,
            Network::Regtest,
            arbitrator.channel_public_key(),
            at,
        )
        .unwrap()
        .sign(arbitrator.keypair())
        .unwrap()
        .to_bytes()
    }

    /// An announcement found once serves the trades that chose its arbitrator after every DHT copy is
    /// gone; the newest one seen wins; a kept copy is verified again when read.
    #[tokio::test]
    async fn an_arbitrator_s_announcement_seen_once_is_kept_for_when_the_dht_lost_it() {
        let f = fixture().await;
        let inner = &f.desk.inner;
        let (gone, here) = (identity(), identity());
        let find = |who: &Identity| {
            let who = who.peer_id();
            async move { find_arbitrator(inner, &who, Chain::Ltc, Network::Regtest).await }
        };
        let err = find(&gone).await.unwrap_err();
        assert!(err.to_string().contains("no announcement"), "{err}");

        // Seen in the DHT (this node's own store; no peer holds anything): found, and kept.
        let now = now_ms();
        let key = record_key(&here.peer_id(), Chain::Ltc, Network::Regtest);
        let put = |value: Vec<u8>| {
            let key = key.clone();
            async move {
                inner
                    .net
                    .put_record(key, value, Duration::from_secs(3600))
                    .await
                    .unwrap()
            }
        };
        put(announced(&here, now - 1_000)).await;
        assert_eq!(find(&here).await.unwrap().at, now - 1_000);
        // The DHT serves an older copy now (a replay): the newer kept one is used.
        put(announced(&here, now - 50_000)).await;
        assert_eq!(find(&here).await.unwrap().at, now - 1_000);

        // Kept from before, and nowhere in the DHT any more: still found.
        sqlx::query("INSERT INTO arbitrator_announcements VALUES (?, 'ltc', 'regtest', ?, ?)")
            .bind(gone.peer_id().to_base58())
            .bind(announced(&gone, now - 2_000))
            .bind(now - 2_000)
            .execute(f.store.pool())
            .await
            .unwrap();
        assert_eq!(find(&gone).await.unwrap().at, now - 2_000);

        // A kept copy that no longer verifies is refused, not trusted.
        let mut forged = announced(&gone, now);
        let last = forged.len() - 1;
        forged[last] ^= 1;
        sqlx::query("UPDATE arbitrator_announcements SET signed = ? WHERE arbitrator = ?")
            .bind(forged)
            .bind(gone.peer_id().to_base58())
            .execute(f.store.pool())
            .await
            .unwrap();
        assert!(find(&gone).await.is_err());
    }
}
