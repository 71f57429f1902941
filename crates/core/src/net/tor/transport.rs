//! Tor mode's only transport: dials `/onion3/…` (and `/dns/…/tcp/…`, resolved by tor) through tor's
//! SOCKS5 proxy, and listens on loopback only, where tor delivers the onion service's connections.
//! Anything else (an IP address, a UDP or relayed address) is refused: a Tor-mode node must never
//! open a connection that does not go through tor.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use futures::{FutureExt as _, future::BoxFuture};
use libp2p::{
    Multiaddr,
    core::transport::{DialOpts, ListenerId, Transport, TransportError, TransportEvent},
    multiaddr::Protocol,
    tcp,
};

/// Dials through tor's SOCKS5 port; listens on loopback TCP.
pub(crate) struct OnionTransport {
    socks: SocketAddr,
    listen: tcp::tokio::Transport,
}

impl OnionTransport {
    pub(crate) fn new(socks: SocketAddr) -> Self {
        Self {
            socks,
            listen: tcp::tokio::Transport::new(tcp::Config::default().nodelay(true)),
        }
    }
}

/// `true` for an onion address (what Tor mode announces and dials).
pub fn is_onion(addr: &Multiaddr) -> bool {
    matches!(addr.iter().next(), Some(Protocol::Onion3(_)))
}

/// The host and port tor is asked to connect to, for the addresses it can reach.
fn target(addr: &Multiaddr) -> Option<(String, u16)> {
    let mut parts = addr.iter();
    let (host, port) = match parts.next()? {
        onion @ Protocol::Onion3(_) => {
            let port = match &onion {
                Protocol::Onion3(a) => a.port(),
                _ => return None,
            };
            // `/onion3/<56 base32 chars>:<port>`
            let text = onion.to_string();
            let name = text
                .strip_prefix("/onion3/")?
                .split(':')
                .next()?
                .to_lowercase();
            (format!("{name}.onion"), port)
        }
        Protocol::Dns(host) | Protocol::Dns4(host) | Protocol::Dns6(host) => match parts.next()? {
            Protocol::Tcp(port) => (host.to_string(), port),
            _ => return None,
        },
        _ => return None,
    };
    // Only the peer id may follow.
    parts
        .all(|p| matches!(p, Protocol::P2p(_)))
        .then_some((host, port))
}

fn loopback_tcp(addr: &Multiaddr) -> bool {
    let mut parts = addr.iter();
    matches!(parts.next(), Some(Protocol::Ip4(ip)) if ip.is_loopback())
        && matches!(parts.next(), Some(Protocol::Tcp(_)))
        && parts.next().is_none()
}

impl Transport for OnionTransport {
    type Output = tcp::tokio::TcpStream;
    type Error = io::Error;
    type ListenerUpgrade = <tcp::tokio::Transport as Transport>::ListenerUpgrade;
    type Dial = BoxFuture<'static, io::Result<Self::Output>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        if !loopback_tcp(&addr) {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        self.listen.listen_on(id, addr)
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.listen.remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let Some(target) = target(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        let socks = self.socks;
        Ok(async move {
            let stream = tokio_socks::tcp::Socks5Stream::connect(socks, target)
                .await
                .map_err(io::Error::other)?
                .into_inner();
            stream.set_nodelay(true)?;
            Ok(tcp::tokio::TcpStream(stream))
        }
        .boxed())
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        Pin::new(&mut self.listen).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_tor_can_reach_is_dialled() {
        let onion: Multiaddr =
            "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
                .parse()
                .unwrap();
        assert_eq!(
            target(&onion),
            Some((
                "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion".into(),
                4001
            ))
        );
        assert!(is_onion(&onion));
        let dns: Multiaddr = "/dns/example.org/tcp/4001".parse().unwrap();
        assert_eq!(target(&dns), Some(("example.org".into(), 4001)));
        for clear in [
            "/ip4/127.0.0.1/tcp/4001",
            "/ip4/1.2.3.4/udp/4001/quic-v1",
            "/dns/example.org/udp/4001/quic-v1",
        ] {
            let addr: Multiaddr = clear.parse().unwrap();
            assert_eq!(target(&addr), None, "{clear}");
            assert!(!is_onion(&addr));
        }
    }

    #[test]
    fn listens_on_loopback_only() {
        let mut t = OnionTransport::new("127.0.0.1:9050".parse().unwrap());
        for addr in ["/ip4/0.0.0.0/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"] {
            assert!(matches!(
                t.listen_on(ListenerId::next(), addr.parse().unwrap()),
                Err(TransportError::MultiaddrNotSupported(_))
            ));
        }
    }
}
