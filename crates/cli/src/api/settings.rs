//! The settings and startup routes of the local API: the person's preferences, the connection
//! settings in `souk.toml` (chain backend, bootstrap peers), and the startup progress by phase.
//! Thin handlers over [`souk_core::node::Node`]; every check is the core's.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
};
use serde_json::{Value, json};
use souk_core::{
    connection::{ChainCheck, ConnectionEdit, ConnectionSettings},
    node::SavedConnection,
    preferences::Preferences,
    startup::StartupProgress,
};

use super::{ApiResult, ApiState};

pub async fn preferences(State(state): State<ApiState>) -> ApiResult<Json<Preferences>> {
    Ok(Json(state.node.preferences().await?))
}

pub async fn save_preferences(
    State(state): State<ApiState>,
    body: Result<Json<Preferences>, JsonRejection>,
) -> ApiResult<Json<Preferences>> {
    let Json(preferences) = body?;
    Ok(Json(state.node.save_preferences(preferences).await?))
}

pub async fn startup(State(state): State<ApiState>) -> Json<StartupProgress> {
    Json(state.node.startup_progress())
}

pub async fn retry_startup(State(state): State<ApiState>) -> ApiResult<Json<StartupProgress>> {
    Ok(Json(state.node.retry_online().await?))
}

pub async fn connection(State(state): State<ApiState>) -> ApiResult<Json<ConnectionSettings>> {
    Ok(Json(state.node.connection_settings()?))
}

pub async fn save_connection(
    State(state): State<ApiState>,
    body: Result<Json<ConnectionEdit>, JsonRejection>,
) -> ApiResult<Json<SavedConnection>> {
    let Json(edit) = body?;
    Ok(Json(state.node.save_connection_settings(edit).await?))
}

pub async fn test_chain(
    State(state): State<ApiState>,
    body: Result<Json<ConnectionEdit>, JsonRejection>,
) -> ApiResult<Json<ChainCheck>> {
    let Json(edit) = body?;
    Ok(Json(state.node.test_chain_connection(edit).await?))
}

/// The OpenAPI paths of these routes, merged into the API's document.
pub fn openapi_paths(errors: &Value) -> Value {
    let ok = |description: &str, schema: Value| {
        let mut responses = errors.clone();
        responses["200"] = json!({ "description": description, "content": { "application/json": { "schema": schema } } });
        responses
    };
    let body = |schema: Value| json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    let connection_edit = json!({ "type": "object", "additionalProperties": false,
        "required": ["chain", "network", "rpc_url", "rpc_user", "rpc_cookie_file", "bootstrap"],
        "description": "ConnectionEdit in the TypeScript bindings",
        "properties": {
            "chain": { "type": "string", "enum": ["btc", "ltc"] },
            "network": { "type": "string", "enum": ["main", "test", "signet", "regtest"] },
            "rpc_url": { "type": "string", "description": "http(s)://host:port/; empty: no chain backend" },
            "rpc_user": { "type": "string" },
            "rpc_password": { "type": ["string", "null"], "description": "null keeps the saved password; \"\" removes it" },
            "rpc_cookie_file": { "type": "string", "description": "a full path, or empty" },
            "electrum_url": { "type": "string", "description": "tcp://host:port or ssl://host:port: an Electrum server instead of a node; empty for none" },
            "electrum_cert_sha256": { "type": "string", "description": "the SHA-256 fingerprint (hex, colons allowed) of the Electrum server's self-signed TLS certificate to trust; empty: a publicly signed certificate" },
            "bootstrap": { "type": "array", "items": { "type": "string", "description": "a multiaddr ending in /p2p/<PeerId>" } }
        }
    });
    let preferences = json!({ "type": "object", "description": "Preferences in the TypeScript bindings: theme (system, light, dark), notifications (offer_taken, message, escrow, deadline, matching_offer), payment_accounts ([{id, method, label, details}]), accepted_arbitrators, excluded_arbitrators, saved_searches ([{id, name, query: BookQuery}]: a new matching offer streams an offer_matched event)" });
    let progress = json!({ "type": "object", "description": "StartupProgress in the TypeScript bindings: phases keystore, database, network, bootstrap, book, each {phase, state: pending|running|done|failed, detail, error, elapsed_ms}" });
    json!({
        "/api/v1/preferences": {
            "get": {
                "summary": "The person's preferences: theme, notifications, payment accounts (defaults until saved; works offline)",
                "responses": ok("Preferences", preferences.clone())
            },
            "put": {
                "summary": "Check and store the preferences whole; a refusal (400 with the reason) keeps the stored ones",
                "requestBody": body(preferences.clone()),
                "responses": ok("The stored preferences", preferences)
            }
        },
        "/api/v1/startup": { "get": {
            "summary": "How far the node's start has come, phase by phase (never waits on the start itself)",
            "responses": ok("StartupProgress", progress.clone())
        }},
        "/api/v1/startup/retry": { "post": {
            "summary": "Run the network phases again (start network, bootstrap, load book) after one failed",
            "responses": ok("StartupProgress after the retry", progress)
        }},
        "/api/v1/settings/connection": {
            "get": {
                "summary": "The chain backend and bootstrap peers: as saved in souk.toml and as this node runs (the RPC password is never returned, only whether one is set), with the SOUK_* variables overriding the file",
                "responses": ok("ConnectionSettings", json!({ "type": "object" }))
            },
            "put": {
                "summary": "Save the chain backend and bootstrap peers into souk.toml (comments and other sections kept; a refused edit leaves the file untouched); bootstrap peers new to the running network are dialled at once, the rest applies on restart",
                "requestBody": body(connection_edit.clone()),
                "responses": ok("SavedConnection: the settings now and the live dials", json!({ "type": "object" }))
            }
        },
        "/api/v1/settings/connection/test": { "post": {
            "summary": "Connect to the chain backend described (saved password when none is given) and report its chain, network and tip height, or exactly why not; saves nothing",
            "requestBody": body(connection_edit),
            "responses": ok("ChainCheck", json!({ "type": "object", "properties": {
                "chain": { "type": "string" }, "network": { "type": "string" }, "url": { "type": "string" },
                "tip_height": { "type": "integer" }, "wallets": { "type": "boolean" },
                "pruned": { "type": "boolean" }, "electrum": { "type": "boolean" }
            }}))
        }}
    })
}
