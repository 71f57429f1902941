//! The protocol table: which party may send which message in which state ([`TRANSITIONS`]), and
//! the lookup that says why a step is not in it. Pure: no message content, no storage.

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::NegotiationError;
use crate::protocol::roles::TradeRole;

/// Which of the four messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    TakeRequest,
    Counter,
    Accept,
    Reject,
}

impl MessageKind {
    /// The `trade_events.kind` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TakeRequest => "take_request",
            Self::Counter => "counter",
            Self::Accept => "accept",
            Self::Reject => "reject",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a negotiation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegotiationState {
    Requested,
    Countered,
    Accepted,
    Rejected,
}

impl NegotiationState {
    /// No message may follow: no transition leaves this state.
    pub fn is_final(self) -> bool {
        !TRANSITIONS.iter().any(|t| t.from == Some(self))
    }
}

impl fmt::Display for NegotiationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Requested => "requested",
            Self::Countered => "countered",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        })
    }
}

/// One allowed step: in state `from` (`None`: before anything), `party` may send `kind`, which leads to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: Option<NegotiationState>,
    pub party: TradeRole,
    pub kind: MessageKind,
    pub to: NegotiationState,
}

const fn t(
    from: Option<NegotiationState>,
    party: TradeRole,
    kind: MessageKind,
    to: NegotiationState,
) -> Transition {
    Transition {
        from,
        party,
        kind,
        to,
    }
}

/// The whole protocol: anything not listed here is refused.
pub const TRANSITIONS: &[Transition] = {
    use MessageKind as K;
    use NegotiationState as S;
    use TradeRole as P;
    &[
        t(None, P::Taker, K::TakeRequest, S::Requested),
        t(Some(S::Requested), P::Maker, K::Accept, S::Accepted),
        t(Some(S::Requested), P::Maker, K::Reject, S::Rejected),
        t(Some(S::Requested), P::Maker, K::Counter, S::Countered),
        t(Some(S::Countered), P::Taker, K::Accept, S::Accepted),
        t(Some(S::Countered), P::Taker, K::Reject, S::Rejected),
    ]
};

/// Looks `(from, party, kind)` up in [`TRANSITIONS`]; the error says why it is not there.
pub(super) fn transition(
    from: Option<NegotiationState>,
    party: TradeRole,
    kind: MessageKind,
) -> Result<NegotiationState, NegotiationError> {
    if let Some(state) = from
        && state.is_final()
    {
        return Err(NegotiationError::AlreadyFinished { state });
    }
    if !TRANSITIONS
        .iter()
        .any(|t| t.party == party && t.kind == kind)
    {
        return Err(NegotiationError::WrongParty { party, kind });
    }
    if let Some(found) = TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.party == party && t.kind == kind)
    {
        return Ok(found.to);
    }
    let state = from.unwrap_or(NegotiationState::Requested);
    match TRANSITIONS.iter().find(|t| t.from == from) {
        Some(expected) if expected.party != party => Err(NegotiationError::NotYourTurn {
            party,
            state,
            expected: expected.party,
        }),
        _ => Err(NegotiationError::UnexpectedMessage { state, kind }),
    }
}
