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

#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub peer_id: String,
    pub listen_addrs: Vec<String>,
    pub connected_peers: usize,
    pub routing_table_size: usize,
    pub stored_records: usize,
}

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

#[derive(Debug, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
}

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
