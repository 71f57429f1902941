//! The arbitrator's routes of the local API: the disputes sent to this node and deciding one. (A
//! party opens a dispute through the trade routes.)

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection, rejection::PathRejection},
};
use souk_core::trading::{Decision, DisputeInfo};

use super::{ApiResult, ApiState, trades::trade_id};

#[utoipa::path(
    get,
    path = "/api/v1/disputes",
    tag = "disputes",
    summary = "As an arbitrator: the disputes sent to this node, newest first",
    responses((status = 200, description = "Disputes", body = Vec<DisputeInfo>))
)]
pub async fn disputes(State(state): State<ApiState>) -> ApiResult<Json<Vec<DisputeInfo>>> {
    Ok(Json(state.node.disputes().await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/disputes/{id}",
    tag = "disputes",
    summary = "As an arbitrator: one dispute, with both parties' reasons and transcripts",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "The dispute", body = DisputeInfo))
)]
pub async fn dispute_info(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<DisputeInfo>> {
    Ok(Json(state.node.dispute_info(trade_id(path)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/disputes/{id}/resolve",
    tag = "disputes",
    summary = "As an arbitrator: pay the escrow to the buyer, the seller, or split between them (a PSBT signed by this node, sent to both parties; a party who gets anything co-signs and broadcasts). A new decision is accepted after a party refused the last one and none took it",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = Decision,
    responses((status = 200, description = "The dispute", body = DisputeInfo))
)]
pub async fn resolve(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Decision>, JsonRejection>,
) -> ApiResult<Json<DisputeInfo>> {
    let id = trade_id(path)?;
    let Json(decision) = body?;
    Ok(Json(state.node.resolve_dispute(id, &decision).await?))
}
