//! The backup route of the local API: an encrypted backup of the node's data directory, written on the
//! node's machine. Importing one is not served here: a headless node imports where it runs
//! (`souk backup import`), into an empty data directory, before it starts.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
};
use serde::Deserialize;
use souk_core::node::{BackupSettings, BackupSummary};

use super::{ApiResult, ApiState};

/// The body of `POST /api/v1/backup/export`. No `Debug`: it holds the passphrase.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// A new file, or a folder in which a file named by the time is made (on the node's machine).
    pub target: String,
    /// The keystore's passphrase; the backup opens only with it.
    pub passphrase: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/backup/export",
    tag = "backup",
    summary = "Write an encrypted backup of this node's identity, database (trades, chats, payment accounts) and souk.toml to a new file on the node's machine, sealed with the keystore's passphrase (a wrong one: 400, kind wrong_passphrase). An existing file is never replaced. Importing a backup is not served here: `souk backup import` where the node runs",
    request_body = ExportRequest,
    responses((status = 200, description = "BackupSummary", body = BackupSummary))
)]
pub async fn export(
    State(state): State<ApiState>,
    body: Result<Json<ExportRequest>, JsonRejection>,
) -> ApiResult<Json<BackupSummary>> {
    let Json(request) = body?;
    Ok(Json(
        state
            .node
            .export_backup(&request.target, &request.passphrase)
            .await?,
    ))
}

/// The body of `PUT /api/v1/settings/backup`. No `Debug`: it holds the passphrase.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupSettingsRequest {
    /// An absolute folder on the node's machine; empty: automatic backups off.
    #[serde(default)]
    pub folder: String,
    /// How many backups to keep (1–100); 5 when not given.
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// The keystore's passphrase, which seals the backups (needed to turn them on).
    #[serde(default)]
    pub passphrase: String,
}

fn default_keep() -> u32 {
    5
}

#[utoipa::path(
    get,
    path = "/api/v1/settings/backup",
    tag = "backup",
    summary = "Automatic backups: the folder (null: off), how many are kept, whether they run now",
    responses((status = 200, description = "BackupSettings", body = BackupSettings))
)]
pub async fn settings(State(state): State<ApiState>) -> ApiResult<Json<BackupSettings>> {
    Ok(Json(state.node.backup_settings().await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/settings/backup",
    tag = "backup",
    summary = "Turn automatic backups on (an absolute folder outside the data directory the node can write to, and the keystore's passphrase, which seals them) or off (an empty folder); written to souk.toml's [backup] and applied at once. A refusal (400) changes nothing",
    request_body = BackupSettingsRequest,
    responses((status = 200, description = "BackupSettings", body = BackupSettings))
)]
pub async fn save_settings(
    State(state): State<ApiState>,
    body: Result<Json<BackupSettingsRequest>, JsonRejection>,
) -> ApiResult<Json<BackupSettings>> {
    let Json(r) = body?;
    Ok(Json(
        state
            .node
            .save_backup_settings(&r.folder, r.keep, &r.passphrase)
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::{body::Body, http::StatusCode};
    use souk_core::{config::Config, identity::KdfCost, node::Node};
    use tokio_util::sync::CancellationToken;
    use tower::ServiceExt;

    use crate::api::{ApiState, router};

    const PASS: &str = "correct horse battery";
    const CHEAP: KdfCost = KdfCost {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };

    async fn export(state: &ApiState, body: &str) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/api/v1/backup/export")
            .header("authorization", "Bearer secret")
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let answer = router(state.clone()).oneshot(request).await.unwrap();
        let status = answer.status();
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn exports_into_a_folder_and_refuses_a_wrong_passphrase_or_an_existing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let node = Node::new(tmp.path().join("data"), Config::default()).with_kdf_cost(CHEAP);
        let peer_id = node.create_identity(PASS).await.unwrap().identity.peer_id;
        let state = ApiState {
            node: Arc::new(node),
            token: "secret".into(),
            stop: CancellationToken::new(),
        };
        let folder = tmp.path().join("usb-stick");
        std::fs::create_dir(&folder).unwrap();
        let body = |target: &std::path::Path, passphrase: &str| {
            serde_json::json!({ "target": target, "passphrase": passphrase }).to_string()
        };

        let (status, error) = export(&state, &body(&folder, "not the passphrase")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["kind"], "wrong_passphrase", "{error}");
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);

        let (status, summary) = export(&state, &body(&folder, PASS)).await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["peer_id"], peer_id.as_str());
        assert_eq!(
            (summary["trades"].as_u64(), summary["open_trades"].as_u64()),
            (Some(0), Some(0))
        );
        let file = std::path::PathBuf::from(summary["path"].as_str().unwrap());
        assert_eq!(file.parent(), Some(folder.as_path()));
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            summary["bytes"].as_u64().unwrap()
        );

        let (status, error) = export(&state, &body(&file, PASS)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["kind"], "invalid_input", "{error}");
        let unknown =
            serde_json::json!({ "target": folder, "passphrase": PASS, "overwrite": true });
        let (status, error) = export(&state, &unknown.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["kind"], "invalid_input", "{error}");
    }
}
