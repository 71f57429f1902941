//! Gossipsub: publishing for the client, and every inbound message judged by the filter before
//! it is forwarded or shown (nothing unjudged is ever propagated).

use libp2p::gossipsub;

use super::{EventLoop, NetError, NetEvent};

impl EventLoop {
    pub(super) fn publish(&mut self, topic: &str, data: Vec<u8>) -> Result<usize, NetError> {
        let topic = gossip_topic(topic)?;
        if data.len() > self.max_gossip_bytes {
            return Err(NetError::MessageTooLarge { size: data.len() });
        }
        let size = data.len();
        let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
        match gossipsub.publish(topic.clone(), data) {
            Ok(_) => {
                let hash = topic.hash();
                Ok(gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .count())
            }
            // Nobody listens yet: normal for a fresh node; the DHT still carries the data.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => Ok(0),
            // The same bytes went out moments ago (messages are named by their content): they are
            // on their way already.
            Err(gossipsub::PublishError::Duplicate) => {
                let hash = topic.hash();
                Ok(gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .count())
            }
            Err(gossipsub::PublishError::AllQueuesFull(n)) => {
                tracing::warn!(%topic, peers = n, "gossip not sent: every peer queue is full");
                Ok(0)
            }
            Err(gossipsub::PublishError::MessageTooLarge) => {
                Err(NetError::MessageTooLarge { size })
            }
            Err(e) => Err(NetError::Internal(format!("publish on {topic}: {e}"))),
        }
    }

    pub(super) fn on_gossip_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                // Envelopes name no publisher (see the behaviour's validation mode): the data carries
                // its own author's signature, which the filter checks. What is known is the peer that
                // sent it, which answers for it.
                let topic = message.topic.as_str().to_owned();
                let verdict = self
                    .filter
                    .check_gossip(&topic, &message.data, &propagation_source);
                let acceptance = if verdict.is_ok() {
                    gossipsub::MessageAcceptance::Accept
                } else {
                    gossipsub::MessageAcceptance::Reject
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
                match verdict {
                    Ok(()) => {
                        self.counters.gossip_accepted += 1;
                        self.emit(NetEvent::Gossip {
                            topic,
                            source: propagation_source,
                            data: message.data,
                        });
                    }
                    Err(reason) => {
                        self.counters.gossip_refused += 1;
                        self.refuse(
                            propagation_source,
                            format!("gossip on {topic} via {propagation_source}: {reason}"),
                        );
                    }
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => self.emit(NetEvent::TopicJoined {
                peer: peer_id,
                topic: topic.into_string(),
            }),
            other => tracing::trace!(event = ?other, "gossipsub event"),
        }
    }
}

pub(super) fn gossip_topic(topic: &str) -> Result<gossipsub::IdentTopic, NetError> {
    if topic.is_empty() || topic.len() > 256 {
        return Err(NetError::InvalidTopic {
            topic: topic.chars().take(64).collect(),
            reason: "a topic is 1 to 256 bytes".into(),
        });
    }
    Ok(gossipsub::IdentTopic::new(topic))
}
