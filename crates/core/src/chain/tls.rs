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

/// Opens the byte stream to `target` (blocking), with `timeout` on connecting, reading and writing.
/// For TLS, the handshake runs with the first bytes sent; the returned [`Seen`] then holds the
/// certificate the server showed.
pub fn connect(
    target: &Target,
    pin: Option<Fingerprint>,
    timeout: Duration,
) -> std::io::Result<(Stream, Seen)> {
    let mut last = None;
    let mut tcp = None;
    for addr in (target.host.as_str(), target.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        last.unwrap_or_else(|| std::io::Error::other(format!("{} has no address", target.host)))
    })?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_nodelay(true)?;
    let seen = Seen::default();
    if !target.tls {
        return Ok((Box::new(tcp), seen));
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
    Ok((Box::new(StreamOwned::new(session, tcp)), seen))
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
                tls: true,
                host: "electrum.example.org".into(),
                port: 50002
            }
        );
        assert_eq!(
            Target::parse("tcp://[::1]:50001").unwrap(),
            Target {
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
