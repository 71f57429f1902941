//! The network routes of the local API: this node's status (PeerId, listen addresses, DHT) and its
//! connected peers.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};

use super::{ApiResult, ApiState};

/// Listen addresses with `/p2p/<peer id>` appended, ready to be used as `--bootstrap`.
pub fn dialable(addrs: &[String], peer_id: &str) -> Vec<String> {
    addrs
        .iter()
        .map(|a| {
            if a.contains("/p2p/") {
                a.clone()
            } else {
                format!("{a}/p2p/{peer_id}")
            }
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    pub peer_id: String,
    pub listen_addrs: Vec<String>,
    pub connected_peers: usize,
    pub routing_table_size: usize,
    pub stored_records: usize,
}

#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "network",
    summary = "This node: PeerId, listen addresses, connected peers, DHT routing table size",
    responses((status = 200, description = "Status", body = Status))
)]
pub(super) async fn status(State(state): State<ApiState>) -> ApiResult<Json<Status>> {
    let status = state.node.network_status().await?;
    Ok(Json(Status {
        listen_addrs: status.listen_addrs,
        peer_id: status.peer_id,
        connected_peers: status.connected_peers.len(),
        routing_table_size: usize::try_from(status.routing_table_size).unwrap_or(usize::MAX),
        stored_records: usize::try_from(status.stored_records).unwrap_or(usize::MAX),
    }))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerInfo {
    pub peer_id: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/peers",
    tag = "network",
    summary = "Connected peers",
    responses((status = 200, description = "Peers", body = Vec<PeerInfo>))
)]
pub(super) async fn peers(State(state): State<ApiState>) -> ApiResult<Json<Vec<PeerInfo>>> {
    let status = state.node.network_status().await?;
    Ok(Json(
        status
            .connected_peers
            .into_iter()
            .map(|peer_id| PeerInfo { peer_id })
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/network",
    tag = "network",
    summary = "The network as the UI shows it: peers, listen addresses, DHT state, and reachability (public, relayed, private or unknown; AutoNAT's verdict, confirmed external addresses, relay reservations)",
    responses((status = 200, description = "NetworkStatus", body = souk_core::node::NetworkStatus))
)]
pub(super) async fn network(
    State(state): State<ApiState>,
) -> ApiResult<Json<souk_core::node::NetworkStatus>> {
    Ok(Json(state.node.network_status().await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/chain",
    tag = "network",
    summary = "The chain backend: configured or not, chain and network, connected with its tip height, or the reason it cannot be reached",
    responses((status = 200, description = "ChainStatus", body = souk_core::node::ChainStatus))
)]
pub(super) async fn chain(
    State(state): State<ApiState>,
) -> ApiResult<Json<souk_core::node::ChainStatus>> {
    Ok(Json(state.node.chain_status().await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/app-status",
    tag = "network",
    summary = "The node's identity state",
    responses((status = 200, description = "AppStatus", body = souk_core::node::AppStatus))
)]
pub(super) async fn app_status(
    State(state): State<ApiState>,
) -> ApiResult<Json<souk_core::node::AppStatus>> {
    Ok(Json(state.node.status().await?))
}
