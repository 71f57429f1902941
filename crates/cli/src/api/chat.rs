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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MarkedRead {
    pub trade_id: Uuid,
    pub marked: u32,
}

pub async fn messages(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Vec<ChatMessage>>> {
    Ok(Json(state.node.chat_log(trade_id(path)?).await?))
}

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
