//! Read-only views of what runs: the network's status and counters, and the chain node's status.
//! Never changes anything.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Node;
#[cfg(doc)]
use crate::error::Error;
use crate::{
    error::Result,
    escrow::{Chain, Network as ChainNetwork},
};

/// The network as a person sees it: who this node is, where it listens, who it is connected to, and
/// whether others can reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct NetworkStatus {
    pub peer_id: String,
    /// Listen addresses ending in `/p2p/<peer id>`, ready to be given to others as a bootstrap.
    pub listen_addrs: Vec<String>,
    pub connected_peers: Vec<String>,
    /// Peers in the Kademlia routing table.
    pub routing_table_size: u32,
    /// Value records in the local DHT store (ours and others').
    pub stored_records: u32,
    /// Can others reach this node, in one word.
    pub reach: Reach,
    /// AutoNAT's verdict on this node's addresses.
    pub nat_status: NatStatus,
    /// Addresses others confirmed reach this node (AutoNAT), or that the config names.
    pub external_addrs: Vec<String>,
    /// The relays this node listens through, each with its reservation once granted.
    pub relays: Vec<RelayStatus>,
    /// This node is a circuit relay for peers behind NAT.
    pub relay_server: bool,
    /// What this node refused from peers since it started.
    pub refusals: crate::trading::Refusals,
}

/// Whether others can open connections to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Directly: AutoNAT confirmed a public address, or the config names an external one.
    Public,
    /// Through a relay that granted this node a reservation.
    Relayed,
    /// Not at all: behind a NAT or firewall, with no relay reservation. Outgoing connections still work.
    Private,
    /// Not known yet: AutoNAT needs a few peers to dial back.
    Unknown,
}

/// AutoNAT's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NatStatus {
    Public,
    Private,
    Unknown,
}

/// One relay this node listens through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct RelayStatus {
    /// The relay's PeerId.
    pub relay: String,
    /// The relayed address this node listens on, once the relay granted a reservation.
    pub reservation: Option<String>,
    /// Picked by this node because it is behind a NAT (not named in its settings).
    pub automatic: bool,
}

/// One word for [`crate::net::Reachability`]: a public address beats a relay, a relay beats nothing.
pub fn reach_of(r: &crate::net::Reachability) -> Reach {
    let direct = r.external_addrs.iter().any(|a| {
        !a.iter()
            .any(|p| p == libp2p::multiaddr::Protocol::P2pCircuit)
    });
    if r.nat == crate::net::NatStatus::Public || direct {
        Reach::Public
    } else if r.relays.iter().any(|c| c.reserved.is_some()) {
        Reach::Relayed
    } else if r.nat == crate::net::NatStatus::Private {
        Reach::Private
    } else {
        Reach::Unknown
    }
}

/// The chain node escrows settle on, as this node sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ChainStatus {
    /// A chain node is configured (`[chain] rpc_url` or `rpc_cookie_file`, or `--rpc-url`): escrow
    /// trades need one.
    pub configured: bool,
    pub chain: Chain,
    pub network: ChainNetwork,
    /// The JSON-RPC URL (or the Electrum server's) asked, without credentials; `None` when nothing is
    /// configured.
    pub rpc_url: Option<String>,
    /// The chain node answered just now, on the configured chain and network.
    pub connected: bool,
    /// Height of its best block.
    pub tip_height: Option<u64>,
    /// Confirmations before a funding or a release counts.
    pub confirmations: u32,
    /// Why the chain node cannot be used, in words: unreachable, credentials refused, another chain, …
    pub error: Option<String>,
}

/// How long the chain status waits for the chain node (its RPC timeout may be much longer).
const CHAIN_STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Node {
    /// The chain node as it answers now: configured or not, connected with its tip height, or why not.
    /// Works before the network started (then it connects just to ask) and needs no unlocked identity.
    pub async fn chain_status(&self) -> Result<ChainStatus> {
        let config = &self.config.chain;
        let mut status = ChainStatus {
            configured: config.is_configured() || self.chain_backend.is_some(),
            chain: config.chain,
            network: config.network,
            rpc_url: None,
            connected: false,
            tip_height: None,
            confirmations: config.required_confirmations(),
            error: None,
        };
        if !status.configured {
            return Ok(status);
        }
        let url = if self.chain_backend.is_some() {
            crate::chain::GIVEN_BACKEND_URL.to_owned()
        } else if config.uses_electrum() {
            config.electrum_url.trim().to_owned()
        } else {
            config.rpc_url()
        };
        let shown = without_credentials(&url);
        status.rpc_url = Some(shown.clone());
        let running = {
            let guard = self.unlocked.lock().await;
            guard
                .as_ref()
                .and_then(|u| u.desk.as_ref())
                .and_then(|d| d.chain())
        };
        let ask = async {
            use crate::chain::ChainBackend;
            // In Tor mode through tor (or not at all while tor is not running).
            let config = &self.reach_chain().await?;
            match (running, &self.chain_backend) {
                (Some(backend), _) => backend.tip_height().await,
                (None, Some(given)) => given.tip_height().await,
                (None, None) if config.uses_electrum() => {
                    crate::chain::ElectrumBackend::connect(config)
                        .await?
                        .tip_height()
                        .await
                }
                (None, None) => {
                    crate::chain::RpcBackend::connect(config)
                        .await?
                        .tip_height()
                        .await
                }
            }
        };
        match tokio::time::timeout(CHAIN_STATUS_TIMEOUT, ask).await {
            Ok(Ok(height)) => {
                status.connected = true;
                status.tip_height = Some(height);
            }
            Ok(Err(e)) => status.error = Some(e.to_string().replace(&url, &shown)),
            Err(_) => {
                status.error = Some(format!(
                    "the chain node at {shown} did not answer within {} s",
                    CHAIN_STATUS_TIMEOUT.as_secs()
                ));
            }
        }
        Ok(status)
    }

    /// Peers, listen addresses, DHT state and reachability; [`Error::Offline`] before the network
    /// started.
    pub async fn network_status(&self) -> Result<NetworkStatus> {
        let net = self.net().await?;
        let stats = net.stats().await?;
        let reachability = net.reachability().await?;
        let peer_id = net.local_peer_id().to_string();
        let listen_addrs = net
            .listen_addrs()
            .await?
            .iter()
            .map(|a| dialable(&a.to_string(), &peer_id))
            .collect();
        let mut connected_peers: Vec<String> = net
            .connected_peers()
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
        connected_peers.sort();
        Ok(NetworkStatus {
            listen_addrs,
            connected_peers,
            routing_table_size: u32::try_from(stats.routing_table_size).unwrap_or(u32::MAX),
            stored_records: u32::try_from(stats.stored_records).unwrap_or(u32::MAX),
            reach: reach_of(&reachability),
            nat_status: match reachability.nat {
                crate::net::NatStatus::Public => NatStatus::Public,
                crate::net::NatStatus::Private => NatStatus::Private,
                crate::net::NatStatus::Unknown => NatStatus::Unknown,
            },
            external_addrs: reachability
                .external_addrs
                .iter()
                .map(|a| dialable(&a.to_string(), &peer_id))
                .collect(),
            relays: reachability
                .relays
                .iter()
                .map(|c| RelayStatus {
                    relay: c.relay.to_string(),
                    reservation: c
                        .reserved
                        .as_ref()
                        .map(|a| dialable(&a.to_string(), &peer_id)),
                    automatic: c.automatic,
                })
                .collect(),
            relay_server: reachability.relay_server,
            refusals: crate::trading::Refusals {
                peers_ignored: u32::try_from(stats.gossip_graylisted).unwrap_or(u32::MAX),
                ..self.desk().await?.refusals()
            },
            peer_id,
        })
    }

    /// The running network's counters: peers, routing table, records, and what was refused.
    pub async fn net_stats(&self) -> Result<crate::net::NetStats> {
        Ok(self.net().await?.stats().await?)
    }

    /// The running network's events (peers coming and going, addresses, reservations), to follow it.
    pub async fn network_events(
        &self,
    ) -> Result<tokio::sync::broadcast::Receiver<crate::net::NetEvent>> {
        Ok(self.net().await?.subscribe_events())
    }
}

/// A listen address with `/p2p/<peer id>` appended, so others can dial it.
fn dialable(addr: &str, peer_id: &str) -> String {
    if addr.contains("/p2p/") {
        addr.to_owned()
    } else {
        format!("{addr}/p2p/{peer_id}")
    }
}

/// `http://user:password@host/` → `http://host/`: a URL as it may be shown.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            without_credentials("http://u:p@10.0.0.2:8332/wallet/x"),
            "http://10.0.0.2:8332/wallet/x"
        );
        assert_eq!(without_credentials("http://h:1/a@b"), "http://h:1/a@b");
        assert_eq!(without_credentials("nonsense"), "nonsense");
    }

    #[test]
    fn reach_prefers_a_public_address_over_a_relay_over_nothing() {
        use crate::net::{NatStatus as Nat, Reachability, RelayCircuit};
        let relay: libp2p::PeerId = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let circuit: libp2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{relay}/p2p-circuit")
            .parse()
            .unwrap();
        let of = |nat, external: Vec<libp2p::Multiaddr>, reserved: bool| {
            reach_of(&Reachability {
                nat,
                external_addrs: external,
                relays: vec![RelayCircuit {
                    relay,
                    listen_addr: circuit.clone(),
                    reserved: reserved.then(|| circuit.clone()),
                    automatic: false,
                }],
                relay_server: false,
            })
        };
        let public: libp2p::Multiaddr = "/ip4/203.0.113.7/tcp/4001".parse().unwrap();
        assert_eq!(of(Nat::Unknown, vec![], false), Reach::Unknown);
        assert_eq!(of(Nat::Private, vec![], false), Reach::Private);
        assert_eq!(of(Nat::Private, vec![], true), Reach::Relayed);
        // A relayed address confirmed as external is still only relayed.
        assert_eq!(
            of(Nat::Unknown, vec![circuit.clone()], true),
            Reach::Relayed
        );
        assert_eq!(of(Nat::Unknown, vec![public.clone()], true), Reach::Public);
        assert_eq!(of(Nat::Public, vec![], true), Reach::Public);
    }
}
