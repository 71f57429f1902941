//! Tor mode's only transport: dials `/onion3/…` (and `/dns/…/tcp/…`, resolved by tor) through tor's
//! SOCKS5 proxy, and listens on loopback only, where tor delivers the onion service's connections.
//! Anything else (an IP address, a UDP or relayed address) is refused: a Tor-mode node must never
//! open a connection that does not go through tor. A bridge has it beside its clearnet transports,
//! for onion addresses only ([`OnionTransport::onions_only`]).

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
    /// Tor mode's listener; a bridge listens with its TCP transport.
    listen: Option<tcp::tokio::Transport>,
}

impl OnionTransport {
    pub(crate) fn new(socks: SocketAddr) -> Self {
        Self {
            socks,
            listen: Some(tcp::tokio::Transport::new(
                tcp::Config::default().nodelay(true),
            )),
        }
    }

    /// A bridge's: dials onion addresses only (everything else goes its clearnet way), never
    /// listens.
    pub(crate) fn onions_only(socks: SocketAddr) -> Self {
        Self {
            socks,
            listen: None,
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
        match &mut self.listen {
            Some(listen) if loopback_tcp(&addr) => listen.listen_on(id, addr),
            _ => Err(TransportError::MultiaddrNotSupported(addr)),
        }
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.listen
            .as_mut()
            .is_some_and(|listen| listen.remove_listener(id))
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let Some(target) = target(&addr).filter(|_| self.listen.is_some() || is_onion(&addr))
        else {
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
        match &mut self.listen {
            Some(listen) => Pin::new(listen).poll(cx),
            None => Poll::Pending,
        }
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
    fn a_bridges_onion_transport_dials_onions_only_and_never_listens() {
        let mut t = OnionTransport::onions_only("127.0.0.1:9050".parse().unwrap());
        let onion: Multiaddr =
            "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001"
                .parse()
                .unwrap();
        let opts = || DialOpts {
            role: libp2p::core::Endpoint::Dialer,
            port_use: libp2p::core::transport::PortUse::New,
        };
        assert!(t.dial(onion, opts()).is_ok());
        for other in ["/dns/example.org/tcp/4001", "/ip4/1.2.3.4/tcp/4001"] {
            assert!(matches!(
                t.dial(other.parse().unwrap(), opts()),
                Err(TransportError::MultiaddrNotSupported(_))
            ));
        }
        assert!(matches!(
            t.listen_on(ListenerId::next(), "/ip4/127.0.0.1/tcp/0".parse().unwrap()),
            Err(TransportError::MultiaddrNotSupported(_))
        ));
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
