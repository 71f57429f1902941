//! The JSON-RPC transport to the node: one HTTP POST per call, with basic auth from the settings or
//! the node's cookie file, and Core's errors told apart (unreachable, credentials, warm-up, RPC error).
//! It must never send or show the contents of a file that is not a node's cookie.

use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{RPC_IN_WARMUP, RpcBackend};
use crate::chain::ChainError;

#[derive(Deserialize)]
struct RpcReply {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<RpcErrorObject>,
}

#[derive(Deserialize)]
struct RpcErrorObject {
    code: i64,
    message: String,
}

impl RpcBackend {
    /// One raw JSON-RPC call. Typed wrappers are the [`ChainBackend`] methods; this is for everything
    /// else (and for test harnesses driving a regtest node).
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        self.call_at(&self.url, method, params).await
    }

    /// One raw JSON-RPC call on the node's wallet `wallet` (`/wallet/NAME`).
    pub async fn call_wallet(
        &self,
        wallet: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, ChainError> {
        let url = format!("{}/wallet/{wallet}", self.url.trim_end_matches('/'));
        self.call_at(&url, method, params).await
    }

    pub(super) async fn call_at(
        &self,
        url: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, ChainError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "1.0", "id": id, "method": method, "params": params });
        let mut request = self.client.post(url).json(&body);
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        match status.as_u16() {
            401 => {
                return Err(ChainError::Auth {
                    url: self.url.clone(),
                });
            }
            403 => {
                return Err(ChainError::Forbidden {
                    url: self.url.clone(),
                });
            }
            _ => {}
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        // Core answers RPC errors with HTTP 404/500 and a JSON body, so the body decides, not the status.
        let reply: RpcReply =
            serde_json::from_slice(&bytes).map_err(|e| ChainError::BadResponse {
                method: method.to_owned(),
                reason: format!(
                    "HTTP {status}, not a JSON-RPC reply ({e}): {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ),
            })?;
        match reply.error {
            Some(e) if e.code == RPC_IN_WARMUP => Err(ChainError::WarmingUp(e.message)),
            Some(e) => Err(ChainError::Rpc {
                method: method.to_owned(),
                code: e.code,
                message: e.message,
            }),
            None => Ok(reply.result),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> ChainError {
        let reason = if e.is_timeout() {
            "no answer in time".to_owned()
        } else if e.is_connect() {
            "connection failed: is the node running, and do rpc_url, rpcbind and rpcport agree?"
                .to_owned()
        } else {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                reason.push_str(&format!(": {s}"));
                source = s.source();
            }
            reason
        };
        ChainError::Unreachable {
            url: self.url.clone(),
            reason,
        }
    }
}

/// The user a chain node writes into its cookie file (Bitcoin Core's and Litecoin Core's
/// `COOKIEAUTH_USER`).
const COOKIE_USER: &str = "__cookie__";
/// A cookie file is one short line; anything longer is not one.
const MAX_COOKIE_BYTES: u64 = 256;

/// `user:password` from a node's `.cookie` file, re-read at each connect (the node rewrites it at start).
/// Only a file that is a node's cookie is used (one short line, `__cookie__:` and a password of printable
/// characters): the path comes from settings a caller of the local API can test, and the credentials go
/// to a URL the same caller names, so no other file's contents may ever be sent — nor shown in an error.
pub(super) fn read_cookie(path: &std::path::Path) -> Result<(String, String), ChainError> {
    let cookie = |reason: String| ChainError::Cookie {
        path: path.to_owned(),
        reason,
    };
    let not_a_cookie = || {
        cookie(format!(
            "it is not a chain node's cookie file (one line: `{COOKIE_USER}:` and a password, written by \
             the node at start)"
        ))
    };
    let meta = std::fs::metadata(path).map_err(|e| cookie(e.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_COOKIE_BYTES {
        return Err(not_a_cookie());
    }
    let text = std::fs::read_to_string(path).map_err(|_| not_a_cookie())?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let (user, password) = line.split_once(':').ok_or_else(not_a_cookie)?;
    if user != COOKIE_USER || password.is_empty() || !password.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(not_a_cookie());
    }
    Ok((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".cookie");
        std::fs::write(&path, "__cookie__:s3cr3t:x\n").unwrap();
        assert_eq!(
            read_cookie(&path).unwrap(),
            ("__cookie__".into(), "s3cr3t:x".into())
        );
        let hex = "0123456789abcdef".repeat(4);
        std::fs::write(&path, format!("__cookie__:{hex}")).unwrap();
        assert_eq!(read_cookie(&path).unwrap(), ("__cookie__".into(), hex));
        // Anything else is refused without a word of what it holds: never sent anywhere.
        for other in [
            "garbage".to_owned(),
            "root:x:0:0:root:/root:/bin/bash\n".to_owned(),
            "__cookie__:\n".to_owned(),
            "__cookie__:two words\n".to_owned(),
            "__cookie__:a\nsecond:line\n".to_owned(),
            format!("__cookie__:{}", "a".repeat(300)),
        ] {
            std::fs::write(&path, &other).unwrap();
            let err = read_cookie(&path).unwrap_err().to_string();
            assert!(
                err.contains(".cookie") && err.contains("not a chain node's cookie file"),
                "{other:?}: {err}"
            );
            assert!(!err.contains("root") && !err.contains("second"), "{err}");
        }
        let err = read_cookie(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("not a chain node's cookie file"),
            "a directory: {err}"
        );
        let err = read_cookie(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
