//! The direct protocol `/souk/direct/1.0.0`: one request, one answer, between two peers, both opaque
//! bytes (the application gives them meaning: "your live offers in market X", sealed negotiation
//! envelopes). This file owns the wire format, the bookkeeping of requests waiting for our answer
//! and the mapping of libp2p's failures to [`NetError`]s. It must never interpret a payload, and
//! never compute an answer: answers come from the application through `NetClient::respond`.
//!
//! Wire format: every frame is a 4-byte big-endian length, then that many bytes. A request frame is
//! the payload; a response frame is one status byte ([`ANSWER`] then the payload, or [`REFUSED`]
//! alone). The length is checked against the limit before anything is allocated, so a peer cannot
//! make us buffer more than `max_request_bytes` / `max_response_bytes` (+1 for the status).
//!
//! A refusal is explicit so that a stream closing with no response frame at all keeps one meaning:
//! the answering side gave up waiting for its own answer (its request timeout), which the requester
//! reports as a timeout.

use std::{collections::HashMap, fmt, hash::Hash, io, time::Duration};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{
    PeerId, StreamProtocol,
    request_response::{self, InboundRequestId, OutboundFailure},
};

use super::NetError;

/// The protocol name; a new wire format gets a new version.
pub const DIRECT_PROTOCOL: StreamProtocol = StreamProtocol::new("/souk/direct/1.0.0");

/// Identifies an inbound request waiting for our answer (see `NetEvent::Request`). Valid until it
/// is answered, times out, or its connection closes; never reused while the node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InboundId(pub(crate) InboundRequestId);

impl fmt::Display for InboundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A frame announced a length over the limit; carried inside an `io::Error` so the event loop can
/// tell "too large" apart from other stream failures.
#[derive(Debug, thiserror::Error)]
#[error("frame of {size} bytes exceeds the limit of {max} bytes")]
pub(crate) struct FrameTooLarge {
    pub(crate) size: usize,
    pub(crate) max: usize,
}

/// The remote closed the stream without sending a single byte of response: it stopped waiting for
/// its own answer (its request timeout ran out first).
#[derive(Debug, thiserror::Error)]
#[error("stream closed without an answer")]
pub(crate) struct ClosedUnanswered;

/// Status byte of a response frame carrying the application's answer.
const ANSWER: u8 = 0;
/// Status byte of a response frame saying "not now" (over our pending limits, nobody to answer).
const REFUSED: u8 = 1;

/// What travels back for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirectResponse {
    Answer(Vec<u8>),
    Refused,
}

/// Length-prefixed opaque bytes with an upper bound each way.
#[derive(Debug, Clone)]
pub(crate) struct DirectCodec {
    max_request: usize,
    max_response: usize,
}

impl DirectCodec {
    pub(crate) fn new(max_request: usize, max_response: usize) -> Self {
        // The prefix is a u32: nothing longer can be framed anyway.
        let cap = usize::try_from(u32::MAX).unwrap_or(usize::MAX);
        Self {
            max_request: max_request.min(cap),
            max_response: max_response.min(cap),
        }
    }
}

impl request_response::Codec for DirectCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = DirectResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_request).await
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<DirectResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut frame = read_frame(io, self.max_response.saturating_add(1))
            .await
            .map_err(
                |e| match e.get_ref().and_then(|i| i.downcast_ref::<FrameTooLarge>()) {
                    // Report the payload size against the configured limit, not the framed one.
                    Some(t) => io::Error::new(
                        io::ErrorKind::InvalidData,
                        FrameTooLarge {
                            size: t.size.saturating_sub(1),
                            max: self.max_response,
                        },
                    ),
                    None => e,
                },
            )?;
        match frame.first().copied() {
            Some(ANSWER) => {
                frame.remove(0);
                Ok(DirectResponse::Answer(frame))
            }
            Some(REFUSED) if frame.len() == 1 => Ok(DirectResponse::Refused),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "malformed response frame",
            )),
        }
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request, self.max_request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: DirectResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let frame = match response {
            DirectResponse::Answer(data) => {
                if data.len() > self.max_response {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        FrameTooLarge {
                            size: data.len(),
                            max: self.max_response,
                        },
                    ));
                }
                let mut frame = Vec::with_capacity(data.len() + 1);
                frame.push(ANSWER);
                frame.extend_from_slice(&data);
                frame
            }
            DirectResponse::Refused => vec![REFUSED],
        };
        write_frame(io, &frame, self.max_response.saturating_add(1)).await
    }
}

async fn read_frame<T>(io: &mut T, max: usize) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        match io.read(&mut prefix[filled..]).await? {
            0 if filled == 0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    ClosedUnanswered,
                ));
            }
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    let size = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if size > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            FrameTooLarge { size, max },
        ));
    }
    let mut data = vec![0; size];
    io.read_exact(&mut data).await?;
    Ok(data)
}

async fn write_frame<T>(io: &mut T, data: &[u8], max: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    let size = data.len();
    let prefix = match u32::try_from(size) {
        Ok(n) if size <= max => n.to_be_bytes(),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                FrameTooLarge { size, max },
            ));
        }
    };
    io.write_all(&prefix).await?;
    io.write_all(data).await?;
    io.flush().await
}

/// What a failed outbound request means to the caller of `NetClient::request`; `elapsed` is the
/// time since it was handed to libp2p.
pub(crate) fn outbound_error(
    peer: PeerId,
    failure: OutboundFailure,
    elapsed: Duration,
) -> NetError {
    match failure {
        OutboundFailure::Timeout => NetError::RequestTimedOut {
            peer,
            after: elapsed,
        },
        OutboundFailure::DialFailure => NetError::NotConnected { peer },
        OutboundFailure::ConnectionClosed => NetError::RequestFailed {
            peer,
            reason: "the connection closed before the answer arrived".into(),
        },
        OutboundFailure::UnsupportedProtocols => NetError::RequestFailed {
            peer,
            reason: format!("the peer does not speak {DIRECT_PROTOCOL}"),
        },
        OutboundFailure::Io(e) => {
            let inner = e.get_ref();
            if let Some(t) = inner.and_then(|i| i.downcast_ref::<FrameTooLarge>()) {
                NetError::ResponseTooLarge {
                    peer,
                    size: t.size,
                    max: t.max,
                }
            } else if inner.is_some_and(|i| i.is::<ClosedUnanswered>()) {
                // The peer's own timeout ran out before ours (it started its clock first).
                NetError::RequestTimedOut {
                    peer,
                    after: elapsed,
                }
            } else {
                NetError::RequestFailed {
                    peer,
                    reason: e.to_string(),
                }
            }
        }
    }
}

/// Inbound requests waiting for the application's answer, with a cap in total and per peer. `K` is
/// libp2p's request id and `C` its response channel (plain values in unit tests).
#[derive(Debug)]
pub(crate) struct PendingInbound<K, C> {
    max_total: usize,
    max_per_peer: usize,
    entries: HashMap<K, (PeerId, C)>,
    per_peer: HashMap<PeerId, usize>,
}

impl<K: Copy + Eq + Hash, C> PendingInbound<K, C> {
    pub(crate) fn new(max_total: usize, max_per_peer: usize) -> Self {
        Self {
            max_total,
            max_per_peer,
            entries: HashMap::new(),
            per_peer: HashMap::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Add a request unless it would exceed a cap; on refusal the channel is handed back (the
    /// caller drops it, which closes the stream unanswered) with the reason.
    pub(crate) fn admit(&mut self, id: K, peer: PeerId, channel: C) -> Result<(), (C, String)> {
        let of_peer = self.per_peer.get(&peer).copied().unwrap_or(0);
        if of_peer >= self.max_per_peer {
            return Err((
                channel,
                format!(
                    "already {of_peer} requests from this peer waiting for an answer (limit {})",
                    self.max_per_peer
                ),
            ));
        }
        if self.entries.len() >= self.max_total {
            return Err((
                channel,
                format!(
                    "already {} requests waiting for an answer (limit {})",
                    self.entries.len(),
                    self.max_total
                ),
            ));
        }
        self.entries.insert(id, (peer, channel));
        *self.per_peer.entry(peer).or_default() += 1;
        Ok(())
    }

    /// Remove the request `id` (answered, timed out, connection closed).
    pub(crate) fn take(&mut self, id: &K) -> Option<(PeerId, C)> {
        let (peer, channel) = self.entries.remove(id)?;
        self.uncount(&peer);
        Some((peer, channel))
    }

    /// Drop every request whose channel `is_open` says is dead; returns what was dropped.
    pub(crate) fn retain_open(&mut self, mut is_open: impl FnMut(&C) -> bool) -> Vec<(K, PeerId)> {
        let dead: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, (_, c))| !is_open(c))
            .map(|(id, (peer, _))| (*id, *peer))
            .collect();
        for (id, peer) in &dead {
            self.entries.remove(id);
            self.uncount(peer);
        }
        dead
    }

    fn uncount(&mut self, peer: &PeerId) {
        if let Some(n) = self.per_peer.get_mut(peer) {
            *n -= 1;
            if *n == 0 {
                self.per_peer.remove(peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::{executor::block_on, io::Cursor};
    use proptest::prelude::*;
    use request_response::Codec as _;

    use super::*;

    fn frame(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        block_on(write_frame(&mut Cursor::new(&mut out), data, usize::MAX)).unwrap();
        out
    }

    proptest! {
        #[test]
        fn frames_round_trip(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut codec = DirectCodec::new(2048, 2048);
            let mut wire = Cursor::new(Vec::new());
            block_on(codec.write_request(&DIRECT_PROTOCOL, &mut wire, data.clone())).unwrap();
            wire.set_position(0);
            let read = block_on(codec.read_request(&DIRECT_PROTOCOL, &mut wire)).unwrap();
            prop_assert_eq!(read, data.clone());

            let mut wire = Cursor::new(Vec::new());
            let answer = DirectResponse::Answer(data);
            block_on(codec.write_response(&DIRECT_PROTOCOL, &mut wire, answer.clone())).unwrap();
            wire.set_position(0);
            let read = block_on(codec.read_response(&DIRECT_PROTOCOL, &mut wire)).unwrap();
            prop_assert_eq!(read, answer);
        }

        #[test]
        fn truncated_frames_are_errors(data in proptest::collection::vec(any::<u8>(), 1..256), cut in 0usize..4) {
            let wire = frame(&data);
            let cut = wire.len() - 1 - cut.min(wire.len() - 1);
            let mut codec = DirectCodec::new(1024, 1024);
            let result = block_on(codec.read_response(&DIRECT_PROTOCOL, &mut Cursor::new(&wire[..cut])));
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_allocating() {
        let mut codec = DirectCodec::new(16, 32);
        // A prefix announcing 4 GiB with no body: refused on the length alone.
        let wire = u32::MAX.to_be_bytes();
        let err = block_on(codec.read_request(&DIRECT_PROTOCOL, &mut Cursor::new(&wire[..])))
            .unwrap_err();
        let too_large = err
            .get_ref()
            .unwrap()
            .downcast_ref::<FrameTooLarge>()
            .unwrap();
        assert_eq!(too_large.max, 16);

        let wire = frame(&[7; 17]);
        assert!(block_on(codec.read_request(&DIRECT_PROTOCOL, &mut Cursor::new(&wire))).is_err());

        // Responses have their own limit, on the payload (the status byte is not counted).
        let mut answer = vec![ANSWER];
        answer.extend_from_slice(&[7; 32]);
        let read =
            block_on(codec.read_response(&DIRECT_PROTOCOL, &mut Cursor::new(&frame(&answer))));
        assert_eq!(read.unwrap(), DirectResponse::Answer(vec![7; 32]));
        answer.push(7);
        let err =
            block_on(codec.read_response(&DIRECT_PROTOCOL, &mut Cursor::new(&frame(&answer))))
                .unwrap_err();
        let too_large = err
            .get_ref()
            .unwrap()
            .downcast_ref::<FrameTooLarge>()
            .unwrap();
        assert_eq!((too_large.size, too_large.max), (33, 32));

        let mut sink = Cursor::new(Vec::new());
        assert!(block_on(codec.write_request(&DIRECT_PROTOCOL, &mut sink, vec![0; 17])).is_err());
        let big = DirectResponse::Answer(vec![0; 33]);
        assert!(block_on(codec.write_response(&DIRECT_PROTOCOL, &mut sink, big)).is_err());
        assert!(sink.get_ref().is_empty(), "nothing written");
    }

    #[test]
    fn refusals_empty_streams_and_malformed_responses_are_told_apart() {
        let mut codec = DirectCodec::new(16, 16);
        let mut read =
            |wire: &[u8]| block_on(codec.read_response(&DIRECT_PROTOCOL, &mut Cursor::new(wire)));
        let err = read(&[]).unwrap_err();
        assert!(err.get_ref().unwrap().is::<ClosedUnanswered>());
        assert_eq!(read(&frame(&[REFUSED])).unwrap(), DirectResponse::Refused);
        assert_eq!(
            read(&frame(&[ANSWER])).unwrap(),
            DirectResponse::Answer(Vec::new())
        );
        for bad in [&[][..], &[REFUSED, 0][..], &[9, 1, 2][..]] {
            let err = read(&frame(bad)).unwrap_err();
            assert!(
                err.get_ref().is_some_and(|e| !e.is::<ClosedUnanswered>()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pending_inbound_caps_per_peer_and_in_total() {
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let mut pending = PendingInbound::<u64, bool>::new(3, 2);
        assert!(pending.admit(1, a, true).is_ok());
        assert!(pending.admit(2, a, false).is_ok());
        let (_, reason) = pending.admit(3, a, true).unwrap_err();
        assert!(reason.contains("from this peer"), "{reason}");
        assert!(pending.admit(4, b, true).is_ok());
        let (_, reason) = pending.admit(5, c, true).unwrap_err();
        assert!(reason.contains("limit 3"), "{reason}");
        assert_eq!(pending.len(), 3);

        assert_eq!(pending.retain_open(|open| *open), vec![(2, a)]);
        assert!(
            pending.admit(6, a, true).is_ok(),
            "a freed slot is reusable"
        );
        assert_eq!(pending.take(&1), Some((a, true)));
        assert_eq!(pending.take(&1), None, "taken once");
        assert!(pending.admit(7, c, true).is_ok());
        assert_eq!(pending.len(), 3);
    }
}
