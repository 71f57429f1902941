//! The scripting commands (`souk peers`, `souk status`, `souk offer …`): they talk to the running
//! `souk node` of the same data directory through its local API, found in `api.json`, and print its
//! answers as tables or, with `--json`, as the API's JSON.
//!
//! They never open the keystore or the database themselves: the node owns those.
//!
//! This root holds the API client (finding the node, one call, decoding its answer); each command
//! group's calls and printing live in a child module.

mod chat;
mod disputes;
mod node;
mod offers;
mod reputation;
mod text;
mod trades;

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Failure, headless::read_api_file, print_json};

pub use chat::{chat_log, send_chat};
pub use disputes::{dispute, disputes, resolve};
pub use node::{peers, reach, status};
pub use offers::{ListFilter, list_offers, post_offer, refresh_market, withdraw_offer};
pub use reputation::{nickname, rate, reputation};
pub use trades::{answer, counter, fund, list_trades, show_trade, take};

pub struct ApiClient {
    data_dir: PathBuf,
    url: String,
    token: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// Finds the running node of `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, Failure> {
        let file = read_api_file(data_dir).ok_or_else(|| no_node(data_dir))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| Failure::internal(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            url: file.url,
            token: file.token,
            http,
        })
    }

    /// One API call; the answer's JSON on success, a [`Failure`] with the API's reason otherwise.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url), query)
            .map_err(|e| Failure::internal(format!("bad API URL {}{path}: {e}", self.url)))?;
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = request.send().await.map_err(|e| {
            if e.is_connect() {
                no_node(&self.data_dir)
            } else {
                Failure::internal(format!("talking to the node at {}: {e}", self.url))
            }
        })?;
        let status = answer.status();
        let text = answer.text().await.map_err(|e| {
            Failure::internal(format!("reading the node's answer from {}: {e}", self.url))
        })?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                Failure::internal(format!("the node's answer is not JSON ({e}): {text}"))
            });
        }
        Err(api_failure(status, &text))
    }
}

impl ApiClient {
    /// One call: with `--json` the answer is printed as it came and `None` returned; otherwise the
    /// answer decoded for printing as text.
    async fn fetch<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        json: bool,
    ) -> Result<Option<T>, Failure> {
        let value = self.call(method, path, query, body).await?;
        if json {
            print_json(&value);
            return Ok(None);
        }
        decode(&value).map(Some)
    }
}

fn no_node(data_dir: &Path) -> Failure {
    Failure {
        kind: "offline".into(),
        message: format!(
            "no running node for {}: start one with `souk node`",
            data_dir.display()
        ),
        code: 1,
    }
}

/// 4xx: the user can fix it (exit 1); a peer's invalid answer: exit 3; anything else: exit 2.
fn api_failure(status: StatusCode, text: &str) -> Failure {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let field = |name: &str| body[name].as_str().map(str::to_owned);
    let kind = field("kind").unwrap_or_else(|| "internal".into());
    let code = if kind == "peer_misbehaved" {
        3
    } else if status.is_client_error() {
        1
    } else {
        2
    };
    Failure {
        kind,
        message: field("message").unwrap_or_else(|| format!("the node answered {status}: {text}")),
        code,
    }
}

fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, Failure> {
    serde_json::from_value(value.clone())
        .map_err(|e| Failure::internal(format!("unexpected answer from the node ({e}): {value}")))
}
