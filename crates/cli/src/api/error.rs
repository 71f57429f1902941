//! The API's error answers: `{kind, message}` with an HTTP status, mapped from the core's error kinds
//! and from axum's request rejections (bad JSON, query or path).

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::Value;
use souk_core::{Error, ErrorKind, ErrorPayload};

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for programs: `invalid_input`, `unauthorized`, `offline`, `peer_misbehaved`,
    /// `internal`, `storage`, `io`, …
    pub kind: String,
    /// What went wrong, in words for a person.
    pub message: String,
}

/// An error answer: `{kind, message}` with a status.
#[derive(Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
    pub(super) kind: String,
    pub(super) message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: kind_name(ErrorKind::InvalidInput),
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let ErrorPayload { kind, message } = e.payload();
        let status = match kind {
            ErrorKind::InvalidInput
            | ErrorKind::InvalidSeedPhrase
            | ErrorKind::WrongPassphrase
            | ErrorKind::BackupCorrupt => StatusCode::BAD_REQUEST,
            ErrorKind::AlreadyInitialized => StatusCode::CONFLICT,
            ErrorKind::Offline | ErrorKind::NotInitialized => StatusCode::SERVICE_UNAVAILABLE,
            // A peer (the maker, the counterparty, the arbitrator) answered with something invalid.
            ErrorKind::PeerMisbehaved => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            kind: kind_name(kind),
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                kind: self.kind,
                message: self.message,
            }),
        )
            .into_response()
    }
}

fn kind_name(kind: ErrorKind) -> String {
    match serde_json::to_value(kind) {
        Ok(Value::String(s)) => s,
        _ => "internal".into(),
    }
}

fn rejection(status: StatusCode, message: String) -> ApiError {
    ApiError {
        status: if status == StatusCode::PAYLOAD_TOO_LARGE {
            status
        } else {
            StatusCode::BAD_REQUEST
        },
        kind: kind_name(ErrorKind::InvalidInput),
        message,
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let message = match &r {
            // "Failed to deserialize the JSON body into the target type: to: unknown winner "x": … at
            // line 1 column 9" → the field and what is wrong with it.
            JsonRejection::JsonDataError(_) => {
                let text = r.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                    .unwrap_or(&text);
                let text = match text.rsplit_once(" at line ") {
                    Some((head, position)) if position.contains(" column ") => head,
                    _ => text,
                };
                text.to_owned()
            }
            _ => r.body_text(),
        };
        rejection(r.status(), message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
