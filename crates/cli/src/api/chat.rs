//! The chat routes of a trade in the local API: the transcript, sending a message, marking the
//! counterparty's messages read.

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection, rejection::PathRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use souk_core::trading::ChatMessage;
use uuid::Uuid;

use super::{ApiError, ApiResult, ApiState, trades::trade_id};

/// The body of `POST /api/v1/trades/{id}/messages`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MarkedRead {
    pub trade_id: Uuid,
    pub marked: u32,
}

#[utoipa::path(
    get,
    path = "/api/v1/trades/{id}/messages",
    tag = "chat",
    summary = "The trade's chat in order (plain text; works offline)",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "Messages", body = Vec<souk_core::trading::ChatMessage>))
)]
pub async fn messages(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Vec<ChatMessage>>> {
    Ok(Json(state.node.chat_log(trade_id(path)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/messages",
    tag = "chat",
    summary = "Send a chat message (stored, then delivered when the counterparty is reachable)",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = ChatRequest,
    responses((status = 201, description = "The stored message", body = souk_core::trading::ChatMessage))
)]
pub async fn send_message(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    let message = state.node.send_chat(id, r.text).await?;
    Ok((StatusCode::CREATED, Json(message)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/read",
    tag = "chat",
    summary = "Mark the counterparty's messages read and send it a read receipt",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "How many were marked", body = MarkedRead))
)]
pub async fn mark_read(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<MarkedRead>> {
    let id = trade_id(path)?;
    let marked = state.node.mark_read(id).await.map_err(ApiError::from)?;
    Ok(Json(MarkedRead {
        trade_id: id,
        marked,
    }))
}
