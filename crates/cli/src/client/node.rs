//! `souk status` and `souk peers`: this node's network state and chain backend, and its connected
//! peers.

use reqwest::Method;

use super::ApiClient;
use crate::{
    Failure,
    api::{PeerInfo, Status},
};

pub async fn status(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(status) = client
        .fetch::<Status>(Method::GET, "/api/v1/status", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    println!("PeerId:              {}", status.peer_id);
    println!("API:                 {}", client.url);
    println!("Connected peers:     {}", status.connected_peers);
    println!("DHT routing table:   {} peers", status.routing_table_size);
    println!("Stored DHT records:  {}", status.stored_records);
    println!("Listening on:");
    for addr in &status.listen_addrs {
        println!("  {addr}");
    }
    // The chain backend: escrows wait while it cannot be asked.
    let chain = client
        .fetch::<souk_core::node::ChainStatus>(Method::GET, "/api/v1/chain", &[], None, false)
        .await?;
    if let Some(chain) = chain {
        println!("Chain backend:       {}", chain_line(&chain));
    }
    Ok(())
}

/// The chain backend in one line: what it is, and connected at a height or why not.
fn chain_line(chain: &souk_core::node::ChainStatus) -> String {
    if !chain.configured {
        return "none (escrow trades need one: --rpc-url or --electrum-url)".into();
    }
    let url = chain.rpc_url.as_deref().unwrap_or("?");
    let kind = if url.starts_with("tcp://") || url.starts_with("ssl://") {
        "Electrum server"
    } else {
        "Core node"
    };
    let what = format!("{kind} {url} ({} {})", chain.chain, chain.network);
    match (chain.connected, chain.tip_height, &chain.error) {
        (true, Some(tip), _) => format!("{what}, connected at block {tip}"),
        (_, _, Some(error)) => format!(
            "{what}: {} (escrow trades wait until it answers)",
            error
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        ),
        _ => format!("{what}: not connected"),
    }
}

pub async fn peers(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(peers) = client
        .fetch::<Vec<PeerInfo>>(Method::GET, "/api/v1/peers", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    if peers.is_empty() {
        println!("No connected peers.");
    }
    for peer in peers {
        println!("{}", peer.peer_id);
    }
    Ok(())
}

/// `souk reach`: how others reach this node, and through which relays.
pub async fn reach(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(net) = client
        .fetch::<souk_core::node::NetworkStatus>(Method::GET, "/api/v1/network", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    println!("Reachable:           {:?}", net.reach);
    println!("AutoNAT:             {:?}", net.nat_status);
    for addr in &net.external_addrs {
        println!("External address:    {addr}");
    }
    if net.relays.is_empty() {
        println!("Relays:              none");
    }
    for relay in &net.relays {
        let how = if relay.automatic {
            "picked behind the NAT"
        } else {
            "from the settings"
        };
        match &relay.reservation {
            Some(at) => println!("Relay ({how}):  {} — reachable at {at}", relay.relay),
            None => println!("Relay ({how}):  {} — no reservation yet", relay.relay),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_backend_is_one_line_naming_its_kind_and_why_it_cannot_be_used() {
        use souk_core::{
            escrow::{Chain, Network},
            node::ChainStatus,
        };
        let base = ChainStatus {
            configured: true,
            chain: Chain::Ltc,
            network: Network::Regtest,
            rpc_url: Some("tcp://127.0.0.1:50001".into()),
            connected: true,
            tip_height: Some(120),
            confirmations: 1,
            error: None,
        };
        assert_eq!(
            chain_line(&base),
            "Electrum server tcp://127.0.0.1:50001 (ltc regtest), connected at block 120"
        );
        let down = ChainStatus {
            rpc_url: Some("http://127.0.0.1:19443/".into()),
            connected: false,
            tip_height: None,
            error: Some("cannot reach the chain node\u{1b}[31m".into()),
            ..base.clone()
        };
        let line = chain_line(&down);
        assert!(
            line.starts_with("Core node http://127.0.0.1:19443/"),
            "{line}"
        );
        assert!(
            line.contains("cannot reach") && line.contains("wait"),
            "{line}"
        );
        assert!(!line.contains('\u{1b}'), "{line}");
        let none = ChainStatus {
            configured: false,
            ..base
        };
        assert!(chain_line(&none).starts_with("none"));
    }
}
