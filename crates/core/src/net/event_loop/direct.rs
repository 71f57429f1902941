//! Direct requests ([`DIRECT_PROTOCOL`](crate::net::DIRECT_PROTOCOL)): ours waiting for their
//! answer, and inbound ones admitted (or refused at once) and held until the application answers.

use std::time::Instant;

use libp2p::{
    PeerId,
    request_response::{self, InboundRequestId, ResponseChannel},
};

use super::{EventLoop, NetError, NetEvent, Reply};
use crate::net::direct::{DirectResponse, InboundId, outbound_error};

impl EventLoop {
    pub(super) fn send_request(&mut self, peer: PeerId, data: Vec<u8>, reply: Reply<Vec<u8>>) {
        if data.len() > self.max_request_bytes {
            let _ = reply.send(Err(NetError::RequestTooLarge {
                size: data.len(),
                max: self.max_request_bytes,
            }));
            return;
        }
        if peer == self.local_peer_id {
            let _ = reply.send(Err(NetError::RequestFailed {
                peer,
                reason: "a node cannot send a request to itself".into(),
            }));
            return;
        }
        // Dials when not connected, with the addresses every behaviour (Kademlia, mDNS) knows.
        let id = self.swarm.behaviour_mut().direct.send_request(&peer, data);
        self.counters.requests_sent += 1;
        self.pending_requests.insert(id, (Instant::now(), reply));
    }

    pub(super) fn respond(&mut self, id: InboundId, data: Vec<u8>) -> Result<(), NetError> {
        if data.len() > self.max_response_bytes {
            return Err(NetError::AnswerTooLarge {
                size: data.len(),
                max: self.max_response_bytes,
            });
        }
        let (peer, channel) = self
            .pending_inbound
            .take(&id.0)
            .ok_or(NetError::UnknownRequest { id })?;
        match self
            .swarm
            .behaviour_mut()
            .direct
            .send_response(channel, DirectResponse::Answer(data))
        {
            Ok(()) => {
                self.counters.requests_answered += 1;
                tracing::debug!(%peer, %id, "answered direct request");
                Ok(())
            }
            // Timed out or disconnected a moment ago; libp2p's failure event follows.
            Err(_) => Err(NetError::RequestClosed { id }),
        }
    }

    pub(super) fn on_direct_event(
        &mut self,
        event: request_response::Event<Vec<u8>, DirectResponse>,
    ) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => self.on_inbound_request(peer, request_id, request, channel),
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                peer,
                ..
            } => {
                if let Some((_, reply)) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(match response {
                        DirectResponse::Answer(data) => Ok(data),
                        DirectResponse::Refused => Err(NetError::RequestRefused { peer }),
                    });
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, %error, "direct request failed");
                if let Some((sent, reply)) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(outbound_error(peer, error, sent.elapsed())));
                }
            }
            Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if self.pending_inbound.take(&request_id).is_some() {
                    tracing::debug!(%peer, %error, id = %request_id, "inbound request expired");
                    self.emit(NetEvent::RequestExpired {
                        peer,
                        id: InboundId(request_id),
                        reason: error.to_string(),
                    });
                }
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn on_inbound_request(
        &mut self,
        peer: PeerId,
        id: InboundRequestId,
        data: Vec<u8>,
        channel: ResponseChannel<DirectResponse>,
    ) {
        // Nobody could ever answer: let the requester know now rather than at its timeout.
        let refusal = if self.events.receiver_count() == 0 {
            Err((
                channel,
                "no receiver of network events to answer it".to_owned(),
            ))
        } else {
            self.pending_inbound.admit(id, peer, channel)
        };
        match refusal {
            Ok(()) => self.emit(NetEvent::Request {
                peer,
                id: InboundId(id),
                data,
            }),
            Err((channel, reason)) => {
                // An explicit "not now", so the requester need not wait for its timeout. If the
                // stream is already gone there is nobody left to tell.
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .direct
                    .send_response(channel, DirectResponse::Refused);
                self.counters.requests_refused += 1;
                self.refuse(peer, format!("direct request: {reason}"));
            }
        }
    }
}
