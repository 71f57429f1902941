//! The settings and startup routes of the local API: the person's preferences, the connection
//! settings in `souk.toml` (chain backend, bootstrap peers), and the startup progress by phase.
//! Thin handlers over [`souk_core::node::Node`]; every check is the core's.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
};
use souk_core::{
    connection::{ChainCheck, ConnectionEdit, ConnectionSettings},
    node::SavedConnection,
    preferences::Preferences,
    startup::StartupProgress,
};

use super::{ApiResult, ApiState};

#[utoipa::path(
    get,
    path = "/api/v1/preferences",
    tag = "settings",
    summary = "The person's preferences: theme, notifications, payment accounts (defaults until saved; works offline)",
    responses((status = 200, description = "Preferences", body = Preferences))
)]
pub async fn preferences(State(state): State<ApiState>) -> ApiResult<Json<Preferences>> {
    Ok(Json(state.node.preferences().await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/preferences",
    tag = "settings",
    summary = "Check and store the preferences whole; a refusal (400 with the reason) keeps the stored ones",
    request_body = Preferences,
    responses((status = 200, description = "The stored preferences", body = Preferences))
)]
pub async fn save_preferences(
    State(state): State<ApiState>,
    body: Result<Json<Preferences>, JsonRejection>,
) -> ApiResult<Json<Preferences>> {
    let Json(preferences) = body?;
    Ok(Json(state.node.save_preferences(preferences).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/startup",
    tag = "settings",
    summary = "How far the node's start has come, phase by phase (never waits on the start itself)",
    responses((status = 200, description = "StartupProgress", body = StartupProgress))
)]
pub async fn startup(State(state): State<ApiState>) -> Json<StartupProgress> {
    Json(state.node.startup_progress())
}

#[utoipa::path(
    post,
    path = "/api/v1/startup/retry",
    tag = "settings",
    summary = "Run the network phases again (start network, bootstrap, load book) after one failed",
    responses((status = 200, description = "StartupProgress after the retry", body = StartupProgress))
)]
pub async fn retry_startup(State(state): State<ApiState>) -> ApiResult<Json<StartupProgress>> {
    Ok(Json(state.node.retry_online().await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/settings/connection",
    tag = "settings",
    summary = "The chain backend and bootstrap peers: as saved in souk.toml and as this node runs (the RPC password is never returned, only whether one is set), with the SOUK_* variables overriding the file",
    responses((status = 200, description = "ConnectionSettings", body = ConnectionSettings))
)]
pub async fn connection(State(state): State<ApiState>) -> ApiResult<Json<ConnectionSettings>> {
    Ok(Json(state.node.connection_settings()?))
}

#[utoipa::path(
    put,
    path = "/api/v1/settings/connection",
    tag = "settings",
    summary = "Save the chain backend and bootstrap peers into souk.toml (comments and other sections kept; a refused edit leaves the file untouched); bootstrap peers new to the running network are dialled at once, the rest applies on restart",
    request_body = ConnectionEdit,
    responses((status = 200, description = "The settings now and the live dials", body = SavedConnection))
)]
pub async fn save_connection(
    State(state): State<ApiState>,
    body: Result<Json<ConnectionEdit>, JsonRejection>,
) -> ApiResult<Json<SavedConnection>> {
    let Json(edit) = body?;
    Ok(Json(state.node.save_connection_settings(edit).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/settings/connection/test",
    tag = "settings",
    summary = "Connect to the chain backend described (saved password when none is given) and report its chain, network and tip height, or exactly why not; saves nothing",
    request_body = ConnectionEdit,
    responses((status = 200, description = "ChainCheck", body = ChainCheck))
)]
pub async fn test_chain(
    State(state): State<ApiState>,
    body: Result<Json<ConnectionEdit>, JsonRejection>,
) -> ApiResult<Json<ChainCheck>> {
    let Json(edit) = body?;
    Ok(Json(state.node.test_chain_connection(edit).await?))
}
