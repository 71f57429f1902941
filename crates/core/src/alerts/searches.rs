//! Saved searches: a new offer of another maker that matches one is announced once, as a
//! [`MarketEvent::OfferMatched`] (the API's event stream carries it) and, while the person wants it, a
//! notification. Pure: the watcher feeds it the book's new offers and the searches as saved.

use std::collections::HashSet;

use libp2p::PeerId;
use uuid::Uuid;

use super::{
    Alert, AlertKind,
    format::{money, premium},
};
use crate::{
    market::MarketEvent,
    offer::{Offer, Price, Side, format_amount},
    peer_name::peer_name,
    preferences::SavedSearch,
};

/// How many (search, offer) pairs are remembered as announced; past it the memory starts afresh (an
/// offer announced long ago may be announced once more, never a flood).
const REMEMBERED: usize = 50_000;

#[derive(Debug, Default)]
pub struct SearchMatcher {
    announced: HashSet<(Uuid, Uuid)>,
}

impl SearchMatcher {
    /// The searches `offer` (new to this node's book) matches, as events: never this node's own
    /// offers, each (search, offer) once.
    pub fn on_offer(
        &mut self,
        offer: &Offer,
        searches: &[SavedSearch],
        me: &PeerId,
    ) -> Vec<MarketEvent> {
        if offer.maker == *me {
            return Vec::new();
        }
        if self.announced.len() >= REMEMBERED {
            self.announced.clear();
        }
        searches
            .iter()
            .filter(|s| s.query.matches(offer) && self.announced.insert((s.id, offer.id)))
            .map(|s| MarketEvent::OfferMatched {
                search_id: s.id,
                search_name: s.name.trim().to_owned(),
                offer: Box::new(offer.clone()),
            })
            .collect()
    }
}

/// The notification of a match: which search, who, what and at what price. Only the search's name
/// (the person's own words) and text Souk makes; nothing the maker wrote.
pub fn offer_matched(search_name: &str, offer: &Offer) -> Alert {
    let verb = match offer.side {
        Side::Sell => "sells",
        Side::Buy => "buys",
    };
    let range = format!(
        "{}–{} {}",
        format_amount(offer.min_amount, offer.base),
        format_amount(offer.max_amount, offer.base),
        offer.base
    );
    let price = match offer.price {
        Price::Fixed(p) => format!(
            "at {} {} per {}",
            money(p, offer.quote),
            offer.quote,
            offer.base
        ),
        Price::MarketRelative { premium_bps } => {
            format!("at the market price {}", premium(premium_bps))
        }
    };
    let methods: Vec<String> = offer
        .payment_methods
        .iter()
        .map(ToString::to_string)
        .collect();
    Alert {
        kind: AlertKind::OfferMatched,
        trade_id: None,
        offer_id: Some(offer.id),
        title: format!("New offer for “{}”", super::excerpt(search_name, 64)),
        body: format!(
            "{} {verb} {range} {price}, by {}. Take it in Market.",
            peer_name(&offer.maker.to_string()),
            methods.join(", ")
        ),
    }
}
