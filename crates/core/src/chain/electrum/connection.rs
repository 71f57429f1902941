//! The connections to the server: opening one (TCP or TLS, see [`crate::chain::tls`]), choosing an
//! idle one per [`Lane`], running a call on the blocking pool, replacing a connection that failed, and
//! telling the server's errors apart. Nothing here knows what a call asks.

use std::{sync::Arc, time::Duration};

use electrum_client::ElectrumApi;

use super::{Client, ElectrumBackend, Lane, READERS, locked};
use crate::chain::{
    ChainError,
    tls::{self, Fingerprint, Target},
};

impl ElectrumBackend {
    /// Calls the server on the blocking pool, over a connection of `lane` that nothing else uses
    /// meanwhile: an idle reader if there is one. A connection that failed is replaced (for the
    /// watching one, subscriptions are made again then, and every history read afresh).
    pub(super) async fn call<T: Send + 'static>(
        &self,
        lane: Lane,
        method: &'static str,
        requests: usize,
        f: impl FnOnce(&Client) -> Result<T, electrum_client::Error> + Send + 'static,
    ) -> Result<T, ChainError> {
        self.requests.fetch_add(
            u64::try_from(requests).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut conn = match lane {
            Lane::Watch => self.conns[0].lock().await,
            Lane::Read => {
                let first = self
                    .next_reader
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let idle = (0..READERS)
                    .map(|i| 1 + (first + i) % READERS)
                    .find_map(|i| self.conns[i].try_lock().ok());
                match idle {
                    Some(guard) => guard,
                    None => self.conns[1 + first % READERS].lock().await,
                }
            }
        };
        let client = conn.clone();
        let url = self.url.clone();
        let result =
            tokio::task::spawn_blocking(move || f(&client).map_err(|e| error(&url, method, e)))
                .await
                .map_err(|e| ChainError::BadResponse {
                    method: method.into(),
                    reason: format!("the call's task: {e}"),
                })?;
        if let Err(ChainError::Unreachable { .. }) = &result
            && let Ok(fresh) = open(&self.url, &self.target, self.pin, self.timeout).await
        {
            *conn = fresh;
            if lane == Lane::Watch {
                let mut state = locked(&self.state);
                state.scripts.clear();
                state.tip = None;
            }
        }
        result
    }
}

/// A new connection, introduced to the server (`server.version` must come first; over TLS it carries
/// the handshake). A certificate that is not trusted is named by its fingerprint.
pub(super) async fn open(
    url: &str,
    target: &Target,
    pin: Option<Fingerprint>,
    timeout: Duration,
) -> Result<Arc<Client>, ChainError> {
    let to = target.clone();
    let (result, seen) = tokio::task::spawn_blocking(move || {
        let (stream, seen) = match tls::connect(&to, pin, timeout) {
            Ok(opened) => opened,
            Err(e) => {
                return (
                    Err(electrum_client::Error::IOError(e)),
                    tls::Seen::default(),
                );
            }
        };
        let client = Client::from(stream);
        let hello = client.raw_call(
            "server.version",
            [
                electrum_client::Param::String(concat!("souk/", env!("CARGO_PKG_VERSION")).into()),
                electrum_client::Param::String("1.4".into()),
            ],
        );
        (hello.map(|_| Arc::new(client)), seen)
    })
    .await
    .map_err(|e| ChainError::Config(format!("the Electrum connection task: {e}")))?;
    result.map_err(|e| match seen.untrusted() {
        Some(fingerprint) => ChainError::Certificate {
            url: url.to_owned(),
            fingerprint: tls::show_fingerprint(&fingerprint),
            reason: e.to_string(),
        },
        None => unreachable(url, &e),
    })
}

fn unreachable(url: &str, e: &electrum_client::Error) -> ChainError {
    ChainError::Unreachable {
        url: url.to_owned(),
        reason: match e {
            electrum_client::Error::IOError(io) => format!(
                "{io}: is the Electrum server running, and do the host, port and tcp:// or ssl:// agree?"
            ),
            other => other.to_string(),
        },
    }
}

fn error(url: &str, method: &str, e: electrum_client::Error) -> ChainError {
    match e {
        electrum_client::Error::IOError(_)
        | electrum_client::Error::AllAttemptsErrored(_)
        | electrum_client::Error::SharedIOError(_)
        | electrum_client::Error::CouldntLockReader
        | electrum_client::Error::Mpsc => unreachable(url, &e),
        electrum_client::Error::Protocol(value) => ChainError::Rpc {
            method: method.into(),
            code: value
                .get("code")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
            message: value
                .get("message")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| value.to_string(), str::to_owned),
        },
        other => ChainError::BadResponse {
            method: method.into(),
            reason: other.to_string(),
        },
    }
}
