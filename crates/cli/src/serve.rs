//! `souk serve`: `souk node` plus the web UI (the built `ui/dist`) from the same loopback origin, so
//! Souk runs in a browser on a machine without a desktop.
//!
//! The static files need no token (they hold no secrets); every `/api/v1/…` route keeps its bearer
//! guard. The token reaches the browser in the URL fragment (`/#token=…`), which browsers never send
//! to a server; the UI moves it to sessionStorage and clears it from the address bar. Files are served
//! with a Content-Security-Policy as strict as the desktop window's (no inline script or style).
//! This module decides nothing about offers or the node: it only serves files.

use std::{
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use axum::{
    Router,
    body::Body,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{Failure, user_error};

/// Where `souk serve` looks for the UI when not told: relative to the working directory, which is
/// where `npm --prefix ui run build` puts it in a checkout.
pub const DEFAULT_UI_DIR: &str = "ui/dist";

/// Checks `dir` holds a built UI before anything else starts; the error says how to get one.
pub fn ui_dir(dir: &Path) -> Result<PathBuf, Failure> {
    let index = dir.join("index.html");
    if !index.is_file() {
        return Err(user_error(format!(
            "no built UI at {}: build it with `npm --prefix ui ci && npm --prefix ui run build`, \
             or pass --ui DIR (or set SOUK_UI_DIR) to a directory holding index.html",
            index.display()
        )));
    }
    dir.canonicalize()
        .map_err(|e| user_error(format!("cannot open UI directory {}: {e}", dir.display())))
}

/// The address a person opens: the API origin with the token in the fragment.
pub fn ui_url(api_url: &str, token: &str) -> String {
    format!("{api_url}/#token={token}")
}

/// The policy every served file carries. `connect-src` names the WebSocket origin explicitly, since
/// not every browser counts `ws:` as `'self'`.
pub fn content_security_policy(api_url: &str) -> String {
    let ws = api_url.replacen("http://", "ws://", 1);
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self' {ws}; object-src 'none'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

struct Ui {
    dir: PathBuf,
    csp: HeaderValue,
}

/// Adds the UI under every path the API does not answer: files from `dir`, and `index.html` for
/// anything else outside `/api/`.
pub fn with_ui(api: Router, dir: PathBuf, api_url: &str) -> Result<Router, Failure> {
    let csp = HeaderValue::from_str(&content_security_policy(api_url))
        .map_err(|e| Failure::internal(format!("bad Content-Security-Policy: {e}")))?;
    let ui = Arc::new(Ui { dir, csp });
    Ok(api.fallback(move |request: Request| serve_file(ui.clone(), request)))
}

async fn serve_file(ui: Arc<Ui>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        let body = r#"{"kind":"not_found","message":"no such API route"}"#;
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let file = match safe_relative(path) {
        Some(rel) if !rel.as_os_str().is_empty() => ui.dir.join(rel),
        Some(_) => ui.dir.join("index.html"),
        None => return StatusCode::BAD_REQUEST.into_response(),
    };
    // Paths that name no file are the app's own (client-side) screens.
    let file = if file.is_file() {
        file
    } else {
        ui.dir.join("index.html")
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime(&file)));
            headers.insert(header::CONTENT_SECURITY_POLICY, ui.csp.clone());
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "cannot read a UI file");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

/// The request path as a path inside the UI directory, or `None` when it tries to leave it.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let rel = Path::new(path.trim_start_matches('/'));
    if path.contains('\\') || path.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for component in rel.components() {
        match component {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn mime(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::to_bytes, routing::get};
    use tower::ServiceExt;

    use super::*;

    fn app(dir: &Path) -> Router {
        let api = Router::new().route("/api/v1/status", get(|| async { "api" }));
        let Ok(app) = with_ui(api, dir.to_path_buf(), "http://127.0.0.1:4321") else {
            panic!("no router");
        };
        app
    }

    async fn get_path(app: Router, path: &str) -> Response {
        let request = axum::http::Request::builder()
            .uri(path)
            .body(Body::empty())
            .unwrap();
        app.oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn serves_files_with_a_strict_policy_and_falls_back_to_the_app() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>index").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app.js"), "console.log(1)").unwrap();
        std::fs::write(dir.path().join(".secret"), "no").unwrap();

        let answer = get_path(app(dir.path()), "/").await;
        assert_eq!(answer.status(), StatusCode::OK);
        let csp = answer.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' ws://127.0.0.1:4321"),
            "{csp}"
        );
        assert_eq!(answer.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            answer.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );

        let js = get_path(app(dir.path()), "/assets/app.js").await;
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            to_bytes(js.into_body(), 1024).await.unwrap(),
            "console.log(1)"
        );

        // Client-side screens get the app; hidden files and escapes do not leak.
        for path in ["/market", "/offers/new"] {
            let body = to_bytes(get_path(app(dir.path()), path).await.into_body(), 1024)
                .await
                .unwrap();
            assert_eq!(body, "<!doctype html>index", "{path}");
        }
        for path in ["/../etc/passwd", "/.secret", "/assets/../../x"] {
            assert_eq!(
                get_path(app(dir.path()), path).await.status(),
                StatusCode::BAD_REQUEST,
                "{path}"
            );
        }
        // The API keeps its routes; unknown API paths are 404s, not the app.
        let api = get_path(app(dir.path()), "/api/v1/status").await;
        assert_eq!(to_bytes(api.into_body(), 1024).await.unwrap(), "api");
        assert_eq!(
            get_path(app(dir.path()), "/api/v1/nothing").await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_missing_ui_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let Err(failure) = ui_dir(dir.path()) else {
            panic!("an empty directory was accepted as a UI");
        };
        assert!(failure.message.contains("npm --prefix ui run build"));
        assert!(failure.message.contains("--ui DIR"));
        assert_eq!(
            ui_url("http://127.0.0.1:5000", "abc"),
            "http://127.0.0.1:5000/#token=abc"
        );
    }
}
