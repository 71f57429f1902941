//! The connection to an Electrum server: plain TCP (`tcp://`) or TLS (`ssl://`), with the server's
//! certificate either signed by a public authority for the URL's host (Mozilla's roots, as Electrum and
//! Sparrow check) or pinned by its SHA-256 fingerprint, for the self-signed certificates most personal
//! servers (ElectrumX, Fulcrum, electrs behind a proxy) use. A certificate that is neither is refused
//! with its fingerprint named, so the user can compare it with the server's and pin it.

use std::{
    io::{Read, Write},
    net::{TcpStream, ToSocketAddrs},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use bitcoin::hashes::{Hash, sha256};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, ServerName, UnixTime},
};

use super::ChainError;

/// A byte stream to the server, whichever transport carries it.
pub trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// The status a script has when its history is empty again, as Souk hands it on: all zeros.
const EMPTY_STATUS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Mends one thing on the way in. A script whose history became empty (its only transaction left the
/// mempool: a replaced or dropped funding) is notified with a `null` status, which `electrum-client`
/// (0.24 and 0.25: its status type is not optional) cannot read: the read fails and the answer the
/// connection waits for is left behind. The null becomes an all-zero status; Souk only needs to know
/// that the status changed. Everything else passes through untouched, a line at a time (the protocol
/// is one JSON message per line).
struct Mended<S> {
    inner: S,
    /// A line not complete yet.
    partial: Vec<u8>,
    /// Complete lines, mended, not handed out yet.
    ready: Vec<u8>,
    at: usize,
}

impl<S> Mended<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            partial: Vec::new(),
            ready: Vec::new(),
            at: 0,
        }
    }
}

impl<S: Read> Read for Mended<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.ready.len() {
            let mut chunk = [0u8; 16 * 1024];
            // An error (a read timeout) keeps the partial line for the next read.
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                // The end: whatever came last goes out as it is.
                if self.partial.is_empty() {
                    return Ok(0);
                }
                self.ready = std::mem::take(&mut self.partial);
                self.at = 0;
                break;
            }
            self.partial.extend_from_slice(&chunk[..n]);
            if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
                let rest = self.partial.split_off(end + 1);
                let lines = std::mem::replace(&mut self.partial, rest);
                self.ready = mend(lines);
                self.at = 0;
            }
        }
        let n = buf.len().min(self.ready.len() - self.at);
        buf[..n].copy_from_slice(&self.ready[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl<S: Write> Write for Mended<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Complete lines, each a JSON message: a script status notification with a null status gets
/// [`EMPTY_STATUS`].
fn mend(lines: Vec<u8>) -> Vec<u8> {
    const METHOD: &[u8] = b"blockchain.scripthash.subscribe";
    if !lines.windows(METHOD.len()).any(|w| w == METHOD) {
        return lines;
    }
    let mut out = Vec::with_capacity(lines.len());
    for line in lines.split_inclusive(|b| *b == b'\n') {
        let mended = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|mut message| {
                let is_notification = message.get("id").is_none()
                    && message.get("method").and_then(serde_json::Value::as_str)
                        == Some("blockchain.scripthash.subscribe");
                let status = message.get_mut("params")?.get_mut(1)?;
                if !(is_notification && status.is_null()) {
                    return None;
                }
                *status = serde_json::Value::from(EMPTY_STATUS);
                Some(message)
            });
        match mended {
            Some(message) => {
                out.extend_from_slice(message.to_string().as_bytes());
                out.push(b'\n');
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

/// What `electrum-client` speaks over: TCP or TLS, boxed.
pub type Stream = Box<dyn Duplex>;

/// A SHA-256 certificate fingerprint.
pub type Fingerprint = [u8; 32];

/// An Electrum URL taken apart: `tcp://host:port` or `ssl://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Reached through this SOCKS5 proxy (tor's), which resolves the host: see
    /// [`crate::config::ChainConfig::proxy`].
    pub proxy: Option<std::net::SocketAddr>,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, ChainError> {
        let url = url.trim();
        let (tls, rest) = if let Some(rest) = url.strip_prefix("tcp://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("ssl://") {
            (true, rest)
        } else {
            return Err(ChainError::Config(format!(
                "electrum_url `{url}` must start with tcp:// or ssl:// (TLS)"
            )));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| {
            ChainError::Config(format!(
                "electrum_url `{url}` needs a port: tcp://HOST:PORT or ssl://HOST:PORT (50002 is usual for TLS)"
            ))
        })?;
        let port: u16 = port.parse().map_err(|_| {
            ChainError::Config(format!("electrum_url `{url}`: `{port}` is not a port"))
        })?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ChainError::Config(format!(
                "electrum_url `{url}` has no host"
            )));
        }
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            proxy: None,
        })
    }
}

/// Reads a fingerprint as users copy it: 64 hex digits, upper or lower case, with or without colons or
/// spaces between the bytes. Empty: none.
pub fn parse_fingerprint(text: &str) -> Result<Option<Fingerprint>, ChainError> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    if digits.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ChainError::Config(format!(
            "electrum_cert_sha256 `{}` is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
            text.trim()
        ))
    };
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(Some(out))
}

/// A fingerprint as servers print it: `AB:CD:…`.
pub fn show_fingerprint(fingerprint: &Fingerprint) -> String {
    fingerprint
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn direct(target: &Target, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in (target.host.as_str(), target.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other(format!("{} has no address", target.host))))
}

/// A TCP connection to the target through a SOCKS5 proxy (the host name goes to the proxy, never to
/// a resolver here). Runs on the blocking pool, inside the runtime.
fn through_proxy(
    proxy: std::net::SocketAddr,
    target: &Target,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let dial = tokio_socks::tcp::Socks5Stream::connect(proxy, (target.host.clone(), target.port));
    let stream = runtime
        .block_on(tokio::time::timeout(timeout, dial))
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection through the proxy at {proxy} within {timeout:?}"),
            )
        })?
        .map_err(|e| std::io::Error::other(format!("through the proxy at {proxy}: {e}")))?
        .into_inner()
        .into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Opens the byte stream to `target` (blocking), with `timeout` on connecting, reading and writing.
/// For TLS, the handshake runs with the first bytes sent; the returned [`Seen`] then holds the
/// certificate the server showed.
pub fn connect(
    target: &Target,
    pin: Option<Fingerprint>,
    timeout: Duration,
) -> std::io::Result<(Stream, Seen)> {
    let tcp = match target.proxy {
        Some(proxy) => through_proxy(proxy, target, timeout)?,
        None => direct(target, timeout)?,
    };
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_nodelay(true)?;
    let seen = Seen::default();
    if !target.tls {
        return Ok((Box::new(Mended::new(tcp)), seen));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        Verifier::new(pin, provider.clone(), seen.clone()).map_err(std::io::Error::other)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let name = ServerName::try_from(target.host.clone()).map_err(std::io::Error::other)?;
    let session = ClientConnection::new(Arc::new(config), name).map_err(std::io::Error::other)?;
    Ok((Box::new(Mended::new(StreamOwned::new(session, tcp))), seen))
}

/// The certificate a TLS server showed, and whether it was trusted: filled during the handshake.
#[derive(Debug, Clone, Default)]
pub struct Seen(Arc<Mutex<Option<(Fingerprint, bool)>>>);

impl Seen {
    /// The fingerprint of a certificate that was shown but not trusted.
    pub fn untrusted(&self) -> Option<Fingerprint> {
        match *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((fingerprint, false)) => Some(fingerprint),
            _ => None,
        }
    }

    fn note(&self, fingerprint: Fingerprint, trusted: bool) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((fingerprint, trusted));
    }
}

/// Trusts the pinned certificate, or else one the public roots vouch for; the handshake's signatures
/// are checked either way, with the certificate's key.
#[derive(Debug)]
struct Verifier {
    pin: Option<Fingerprint>,
    roots: Arc<WebPkiServerVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Seen,
}

impl Verifier {
    fn new(
        pin: Option<Fingerprint>,
        provider: Arc<CryptoProvider>,
        seen: Seen,
    ) -> Result<Self, rustls::client::VerifierBuilderError> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let algorithms = provider.signature_verification_algorithms;
        let roots =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
        Ok(Self {
            pin,
            roots,
            algorithms,
            seen,
        })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = sha256::Hash::hash(end_entity.as_ref()).to_byte_array();
        let verdict = match self.pin {
            Some(pin) if pin == fingerprint => Ok(ServerCertVerified::assertion()),
            Some(pin) => Err(rustls::Error::General(format!(
                "the server's certificate is {}, not the pinned {}",
                show_fingerprint(&fingerprint),
                show_fingerprint(&pin)
            ))),
            None => self.roots.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
        };
        self.seen.note(fingerprint, verdict.is_ok());
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_or_refused_with_the_reason() {
        assert_eq!(
            Target::parse(" ssl://electrum.example.org:50002 ").unwrap(),
            Target {
                proxy: None,
                tls: true,
                host: "electrum.example.org".into(),
                port: 50002
            }
        );
        assert_eq!(
            Target::parse("tcp://[::1]:50001").unwrap(),
            Target {
                proxy: None,
                tls: false,
                host: "::1".into(),
                port: 50001
            }
        );
        for (url, why) in [
            ("electrum.example.org:50002", "tcp:// or ssl://"),
            ("ssl://electrum.example.org", "needs a port"),
            ("ssl://electrum.example.org:x", "not a port"),
            ("tcp://:50001", "no host"),
        ] {
            let err = Target::parse(url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    /// Bytes handed out by a reader in small pieces, as a socket may.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn a_null_script_status_is_mended_and_everything_else_passes_untouched() {
        let hash = "ab".repeat(32);
        let answer = r#"{"jsonrpc":"2.0","result":null,"id":3}"#.to_string();
        let emptied = format!(
            r#"{{"jsonrpc":"2.0","method":"blockchain.scripthash.subscribe","params":["{hash}", null]   }}"#
        );
        let changed = format!(
            r#"{{"jsonrpc":"2.0","method":"blockchain.scripthash.subscribe","params":["{hash}","{}"]}}"#,
            "cd".repeat(32)
        );
        let header = r#"{"jsonrpc":"2.0","method":"blockchain.headers.subscribe","params":[{"hex":"00","height":7}]}"#;
        let wire = format!("{answer}\n{emptied}\n{changed}\n{header}\npartial");
        let mut read = String::new();
        Mended::new(Trickle(wire.into_bytes(), 0))
            .read_to_string(&mut read)
            .unwrap();
        let lines: Vec<&str> = read.split('\n').collect();
        assert_eq!(lines.len(), 5, "{read}");
        assert_eq!(lines[0], answer, "an answer's null result is not a status");
        let mended: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(mended["params"][0], hash.as_str());
        assert_eq!(mended["params"][1], EMPTY_STATUS);
        assert_eq!(lines[2], changed);
        assert_eq!(lines[3], header);
        assert_eq!(lines[4], "partial", "the last bytes, without a line end");
    }

    #[test]
    fn fingerprints_are_read_as_users_copy_them() {
        let hex = "0123456789abcdef".repeat(4);
        let colons = (0..32)
            .map(|i| hex[2 * i..2 * i + 2].to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        let plain = parse_fingerprint(&hex).unwrap().unwrap();
        assert_eq!(parse_fingerprint(&colons).unwrap(), Some(plain));
        assert_eq!(show_fingerprint(&plain), colons);
        assert_eq!(parse_fingerprint("  ").unwrap(), None);
        for bad in ["abc", &hex[..62], &format!("{}zz", &hex[..62])] {
            let err = parse_fingerprint(bad).unwrap_err().to_string();
            assert!(err.contains("64 hex digits"), "{bad}: {err}");
        }
    }
}
