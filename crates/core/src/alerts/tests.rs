use rust_decimal::Decimal;

use libp2p::PeerId;

use super::{
    format::{duration_words, is_invisible_format, money, premium},
    *,
};
use crate::{
    escrow::{Chain, Network},
    offer::{Asset, EscrowKind, Fiat, Offer, PaymentMethod, Price, Quote, Side},
    trading::{ChatMessage, EscrowView, TradeEvent, TradeInfo, TradeRole, TradeTerms},
};

const NOW: i64 = 1_800_000_000_000;
const HOUR_MS: i64 = 3_600_000;

fn windows() -> Windows {
    Windows {
        funding: Duration::from_secs(24 * 3600),
        payment: Some(Duration::from_secs(48 * 3600)),
        release: Duration::from_secs(24 * 3600),
    }
}

fn all_on() -> NotificationPrefs {
    NotificationPrefs::default()
}

/// A trade of 0.05 BTC at 60,000 EUR (3,000 EUR) on a sell offer; `role` is this node's side.
fn trade(role: TradeRole, state: &str) -> TradeInfo {
    let maker = PeerId::random();
    let offer = Offer {
        id: Uuid::new_v4(),
        maker,
        side: Side::Sell,
        base: Asset::Btc,
        quote: Quote::Fiat(Fiat::Eur),
        price: Price::Fixed(Decimal::from(60_000)),
        min_amount: 1_000_000,
        max_amount: 10_000_000,
        payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
        escrow: EscrowKind::None,
        deposit_bps: 1_500,
        maker_x25519: [7; 32],
        created_at: NOW - HOUR_MS,
        expires_at: NOW + HOUR_MS,
        terms: String::new(),
    };
    TradeInfo {
        id: Uuid::new_v4(),
        role,
        counterparty: PeerId::random().to_base58(),
        state: state.parse().expect("a trade state"),
        terms: TradeTerms {
            amount: 5_000_000,
            price: offer.price,
            method: PaymentMethod::new("SEPA").unwrap(),
            payout: "IBAN".into(),
        },
        offer,
        reject_reason: None,
        waiting_for: None,
        next_step: String::new(),
        unread: 0,
        escrow: None,
        steps: Vec::new(),
        created_at: NOW - HOUR_MS,
        updated_at: NOW - HOUR_MS,
    }
}

fn escrow(side: &str) -> EscrowView {
    EscrowView {
        chain: Chain::Btc,
        network: Network::Regtest,
        side: side.parse().expect("buyer or seller"),
        address: Some("bcrt1qescrow".into()),
        seller_escrow_address: Some("bcrt1qescrow".into()),
        buyer_escrow_address: Some("bcrt1qbuyerescrow".into()),
        required: 5_750_000,
        amount: 5_000_000,
        buyer_deposit: 750_000,
        seller_deposit: 750_000,
        my_funding: if side == "buyer" { 750_000 } else { 5_750_000 },
        my_address: Some("bcrt1qmine".into()),
        counterparty_address: Some("bcrt1qtheirs".into()),
        arbitrator: Some(PeerId::random().to_base58()),
        backup_arbitrator: None,
        funded: 0,
        seller_funded: 0,
        buyer_funded: 0,
        backup_after_blocks: 20,
        reclaim_after_blocks: 40,
        funding_txids: Vec::new(),
        pending_funding: Vec::new(),
        funding_confirmations: 0,
        funding_deadline: None,
        payment_deadline: None,
        release_deadline: None,
        release_txid: None,
        release_confirmations: 0,
        returns: Vec::new(),
        decision: None,
        fee_reserve: None,
        recovery_copy_at: None,
        arbitrator_copy_at: None,
    }
}

fn with_state(t: &TradeInfo, state: &str) -> TradeInfo {
    TradeInfo {
        state: state.parse().expect("a trade state"),
        ..t.clone()
    }
}

fn updated(t: &TradeInfo) -> TradeEvent {
    TradeEvent::TradeUpdated {
        trade: Box::new(t.clone()),
    }
}

fn chat(trade_id: Uuid, outgoing: bool, body: &str) -> TradeEvent {
    TradeEvent::Message {
        message: ChatMessage {
            id: Uuid::new_v4(),
            trade_id,
            outgoing,
            seq: 1,
            sender: PeerId::random().to_base58(),
            body: body.into(),
            sent_at: NOW,
            delivered_at: None,
            read_at: None,
        },
    }
}

fn titles(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.title.as_str()).collect()
}

#[test]
fn an_arbitrator_hears_of_each_dispute_once_and_not_of_its_own_decision() {
    let mut engine = Alerts::new(windows(), &[], NOW);
    let trade_id = Uuid::new_v4();
    let opened = TradeEvent::DisputeOpened { trade_id };
    let prefs = NotificationPrefs::default();
    let alerts = engine.on_event(&opened, &prefs, NOW);
    assert_eq!(titles(&alerts), ["A dispute needs your decision"]);
    assert_eq!(alerts[0].trade_id, Some(trade_id));
    // The other party's case arriving is no news; the decision is this node's own.
    assert!(engine.on_event(&opened, &prefs, NOW).is_empty());
    let resolved = TradeEvent::DisputeResolved { trade_id };
    assert!(engine.on_event(&resolved, &prefs, NOW).is_empty());
    // Escrow notifications switched off: silent.
    let quiet = NotificationPrefs {
        escrow: false,
        ..prefs
    };
    let other = TradeEvent::DisputeOpened {
        trade_id: Uuid::new_v4(),
    };
    assert!(engine.on_event(&other, &quiet, NOW).is_empty());
}

#[test]
fn a_trade_back_from_its_recovery_copy_is_announced_once_with_what_comes_next() {
    let mut engine = Alerts::new(windows(), &[], NOW);
    let t = TradeInfo {
        next_step: "pay the seller, then mark the payment sent".into(),
        ..trade(TradeRole::Taker, "EscrowFunded")
    };
    let prefs = NotificationPrefs::default();
    let back = TradeEvent::Recovered {
        trade: Box::new(t.clone()),
    };
    let alerts = engine.on_event(&back, &prefs, NOW);
    assert_eq!(titles(&alerts), ["Trade recovered"]);
    assert_eq!(alerts[0].trade_id, Some(t.id));
    assert_eq!(
        alerts[0].body,
        format!(
            "Your 0.05 BTC trade with {} is back from its sealed copy, as it stood: pay the seller, then \
             mark the payment sent.",
            crate::peer_name::peer_name(&t.counterparty)
        )
    );
    // The trade is known now: the same state again is no news.
    assert!(engine.on_event(&updated(&t), &prefs, NOW).is_empty());
    // Escrow notifications switched off: silent.
    let quiet = NotificationPrefs {
        escrow: false,
        ..prefs
    };
    assert!(engine.on_event(&back, &quiet, NOW).is_empty());
}

#[test]
fn a_take_of_my_offer_says_who_wants_what_for_how_much() {
    let t = trade(TradeRole::Maker, "Requested");
    let mut engine = Alerts::new(windows(), &[], NOW);
    let event = TradeEvent::TakeRequested {
        trade: Box::new(t.clone()),
    };
    let alerts = engine.on_event(&event, &all_on(), NOW);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, AlertKind::OfferTaken);
    assert_eq!(alerts[0].title, "Offer taken");
    // The taker by the name every node gives its PeerId.
    let who = crate::peer_name::peer_name(&t.counterparty);
    assert!(!who.is_empty());
    assert_eq!(
        alerts[0].body,
        format!(
            "{who} wants to buy 0.05 BTC from you for 3,000 EUR, paying by SEPA. \
             Accept, counter or reject it in Trades."
        )
    );
    assert_eq!(alerts[0].trade_id, Some(t.id));
    // Once per trade, even if the event came again.
    assert!(engine.on_event(&event, &all_on(), NOW).is_empty());

    // A buy offer: the taker sells.
    let mut buy = trade(TradeRole::Maker, "Requested");
    buy.offer.side = Side::Buy;
    buy.terms.price = Price::Fixed(Decimal::new(6_050_055, 2));
    let who = crate::peer_name::peer_name(&buy.counterparty);
    let alerts = engine.on_event(
        &TradeEvent::TakeRequested {
            trade: Box::new(buy),
        },
        &all_on(),
        NOW,
    );
    assert_eq!(
        alerts[0].body,
        format!(
            "{who} wants to sell you 0.05 BTC for 3,025.03 EUR, paid by SEPA. \
             Accept, counter or reject it in Trades."
        )
    );
}

#[test]
fn a_market_priced_take_names_the_premium() {
    let mut t = trade(TradeRole::Maker, "Requested");
    t.terms.price = Price::MarketRelative { premium_bps: 150 };
    let mut engine = Alerts::new(windows(), &[], NOW);
    let who = crate::peer_name::peer_name(&t.counterparty);
    let alerts = engine.on_event(
        &TradeEvent::TakeRequested { trade: Box::new(t) },
        &all_on(),
        NOW,
    );
    assert!(
        alerts[0].body.starts_with(&format!(
            "{who} wants to buy 0.05 BTC at the market price +1.5 % from you"
        )),
        "{}",
        alerts[0].body
    );
}

#[test]
fn only_the_counterpartys_chat_alerts_and_its_text_is_a_clean_short_excerpt() {
    let t = trade(TradeRole::Maker, "Accepted");
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&t), NOW);
    assert!(
        engine
            .on_event(&chat(t.id, true, "my own words"), &all_on(), NOW)
            .is_empty(),
        "my own message alerted"
    );
    let hostile =
        "Paid!\u{202E}gnp.exe\n\n\t<b>now</b>\u{7}\u{200B} ".to_owned() + &"x".repeat(200);
    let alerts = engine.on_event(&chat(t.id, false, &hostile), &all_on(), NOW);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::Message);
    assert_eq!(alerts[0].title, "New message");
    let body = &alerts[0].body;
    assert!(body.starts_with("“Paid!gnp.exe <b>now</b> xxx"), "{body}");
    assert!(body.ends_with("…”"), "{body}");
    assert_eq!(body.chars().count(), EXCERPT_CHARS + 2, "{body}");
    assert!(
        !body
            .chars()
            .any(|c| c.is_control() || is_invisible_format(c)),
        "{body:?}"
    );
}

#[test]
fn a_chatty_counterparty_raises_a_few_message_alerts_a_minute_per_trade() {
    let (t, u) = (
        trade(TradeRole::Maker, "Accepted"),
        trade(TradeRole::Taker, "Accepted"),
    );
    let mut engine = Alerts::new(windows(), &[t.clone(), u.clone()], NOW);
    let mut count = |id, at| engine.on_event(&chat(id, false, "hi"), &all_on(), at).len();
    let alerted: usize = (0..50).map(|i| count(t.id, NOW + i * 1_000)).sum();
    assert_eq!(alerted, MESSAGE_ALERTS_PER_MINUTE);
    // Another trade is not held back by the first.
    assert_eq!(count(u.id, NOW + 1_000), 1);
    // A minute after the first, the next one alerts again.
    assert_eq!(count(t.id, NOW + 60_000), 1);
}

#[test]
fn excerpts_keep_short_text_whole_and_cut_long_text_with_an_ellipsis() {
    assert_eq!(excerpt("  hello\r\n world ", 80), "hello world");
    assert_eq!(excerpt("abcdef", 4), "abc…");
    assert_eq!(excerpt("\u{202A}\u{2066}", 10), "");
    assert_eq!(excerpt("ünïcödé ok", 80), "ünïcödé ok");
}

#[test]
fn negotiation_steps_alert_the_other_side_only() {
    // The maker counters: the taker hears of it, the maker does not.
    let taker_view = trade(TradeRole::Taker, "Requested");
    let mut taker = Alerts::new(windows(), std::slice::from_ref(&taker_view), NOW);
    let mut countered = with_state(&taker_view, "Countered");
    countered.terms.amount = 2_000_000;
    countered.terms.price = Price::Fixed(Decimal::from(61_000));
    let alerts = taker.on_event(&updated(&countered), &all_on(), NOW);
    assert_eq!(titles(&alerts), ["Counter-offer"]);
    assert_eq!(alerts[0].kind, AlertKind::Message);
    assert_eq!(
        alerts[0].body,
        "The maker proposes 0.02 BTC for 1,220 EUR instead. Accept or reject it in Trades."
    );

    let maker_view = trade(TradeRole::Maker, "Requested");
    let mut maker = Alerts::new(windows(), std::slice::from_ref(&maker_view), NOW);
    let own = maker.on_event(
        &updated(&with_state(&maker_view, "Countered")),
        &all_on(),
        NOW,
    );
    assert!(own.is_empty(), "the maker's own counter alerted: {own:?}");
    // The taker accepts the counter: now the maker hears of it.
    let accepted = with_state(&maker_view, "Accepted");
    let alerts = maker.on_event(&updated(&accepted), &all_on(), NOW);
    assert_eq!(titles(&alerts), ["Counter accepted"]);
    assert!(
        alerts[0].body.contains("The buyer pays you next."),
        "{}",
        alerts[0].body
    );

    // The taker's own accept is no news to the taker.
    let mut taker = Alerts::new(windows(), std::slice::from_ref(&countered), NOW);
    let own = taker.on_event(
        &updated(&with_state(&countered, "Accepted")),
        &all_on(),
        NOW,
    );
    assert!(own.is_empty(), "{own:?}");

    // The maker rejects the take.
    let taker_view = trade(TradeRole::Taker, "Requested");
    let mut taker = Alerts::new(windows(), std::slice::from_ref(&taker_view), NOW);
    let alerts = taker.on_event(
        &updated(&with_state(&taker_view, "Rejected")),
        &all_on(),
        NOW,
    );
    assert_eq!(titles(&alerts), ["Take rejected"]);

    // The maker accepts the take of a trade without escrow: the buyer (taker) is told to pay.
    let mut taker = Alerts::new(windows(), std::slice::from_ref(&taker_view), NOW);
    let alerts = taker.on_event(
        &updated(&with_state(&taker_view, "Accepted")),
        &all_on(),
        NOW,
    );
    assert_eq!(titles(&alerts), ["Take accepted"]);
    assert_eq!(
        alerts[0].body,
        "The 0.05 BTC trade is agreed: 0.05 BTC for 3,000 EUR. \
         Pay 3,000 EUR by SEPA, then mark the payment sent."
    );
}

#[test]
fn a_trade_first_seen_mid_way_is_not_news() {
    let mut engine = Alerts::new(windows(), &[], NOW);
    let alerts = engine.on_event(
        &updated(&trade(TradeRole::Taker, "Requested")),
        &all_on(),
        NOW,
    );
    assert!(alerts.is_empty(), "{alerts:?}");
}

/// Walks an escrow trade through every state on both sides and returns each side's titles.
fn walk(states: &[&str], role: TradeRole, side: &str) -> Vec<String> {
    let mut t = trade(role, "Accepted");
    t.escrow = Some(escrow(side));
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&t), NOW);
    let mut out = Vec::new();
    for state in states {
        let next = with_state(&t, state);
        for a in engine.on_event(&updated(&next), &all_on(), NOW) {
            assert_eq!(a.kind, AlertKind::Escrow, "{a:?}");
            out.push(a.title);
        }
        // The same state again is no news.
        assert!(engine.on_event(&updated(&next), &all_on(), NOW).is_empty());
        t = next;
    }
    out
}

#[test]
fn escrow_steps_alert_once_each_except_my_own() {
    let happy = [
        "EscrowFunding",
        "EscrowFunded",
        "PaymentSent",
        "PaymentConfirmed",
        "Released",
        "Completed",
    ];
    // On a sell offer, the maker sells and the taker buys.
    assert_eq!(
        walk(&happy, TradeRole::Taker, "buyer"),
        [
            "Escrow ready",
            "Escrow confirmed",
            "Payment confirmed",
            "Escrow released",
            "Trade completed"
        ]
    );
    assert_eq!(
        walk(&happy, TradeRole::Maker, "seller"),
        [
            "Escrow ready",
            "Escrow confirmed",
            "Payment sent",
            "Escrow released",
            "Trade completed"
        ]
    );
    assert_eq!(
        walk(
            &["EscrowFunding", "EscrowFunded", "Disputed", "Resolved"],
            TradeRole::Maker,
            "seller"
        ),
        [
            "Escrow ready",
            "Escrow confirmed",
            "Trade in dispute",
            "Dispute resolved"
        ]
    );
    assert_eq!(
        walk(&["EscrowFunding", "Expired"], TradeRole::Taker, "buyer"),
        ["Escrow ready", "Trade expired"]
    );
    assert_eq!(
        walk(&["Cancelled"], TradeRole::Taker, "buyer"),
        ["Trade cancelled"]
    );
}

#[test]
fn the_seller_is_told_what_payment_to_look_for() {
    let mut t = trade(TradeRole::Maker, "EscrowFunded");
    t.escrow = Some(escrow("seller"));
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&t), NOW);
    let alerts = engine.on_event(&updated(&with_state(&t, "PaymentSent")), &all_on(), NOW);
    assert_eq!(
        alerts[0].body,
        "The buyer of the 0.05 BTC trade says 3,000 EUR is sent by SEPA. \
         Check it arrived, then confirm it."
    );
}

#[test]
fn without_escrow_the_buyer_hears_the_seller_confirmed_and_the_seller_hears_nothing_of_its_own_step()
 {
    let buyer = trade(TradeRole::Taker, "PaymentSent");
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&buyer), NOW);
    let alerts = engine.on_event(&updated(&with_state(&buyer, "Completed")), &all_on(), NOW);
    assert_eq!(titles(&alerts), ["Trade completed"]);

    let seller = trade(TradeRole::Maker, "PaymentSent");
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&seller), NOW);
    let alerts = engine.on_event(&updated(&with_state(&seller, "Completed")), &all_on(), NOW);
    assert!(alerts.is_empty(), "{alerts:?}");
}

#[test]
fn a_fully_funded_escrow_alerts_once_before_its_confirmations() {
    let mut t = trade(TradeRole::Taker, "EscrowFunding");
    t.escrow = Some(escrow("buyer"));
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&t), NOW);
    let mut partly = t.clone();
    if let Some(e) = partly.escrow.as_mut() {
        e.funded = 750_000;
    }
    assert!(
        engine
            .on_event(&updated(&partly), &all_on(), NOW)
            .is_empty()
    );
    let mut full = t.clone();
    if let Some(e) = full.escrow.as_mut() {
        e.funded = 5_750_000;
    }
    let alerts = engine.on_event(&updated(&full), &all_on(), NOW);
    assert_eq!(titles(&alerts), ["Escrow funded"]);
    assert_eq!(alerts[0].kind, AlertKind::Escrow);
    if let Some(e) = full.escrow.as_mut() {
        e.funding_confirmations = 1;
    }
    assert!(engine.on_event(&updated(&full), &all_on(), NOW).is_empty());
}

#[test]
fn the_warning_lead_is_an_hour_or_a_tenth_but_at_most_half_the_window() {
    let h = |n: u64| Duration::from_secs(n * 3600);
    assert_eq!(warning_lead(h(24)), Duration::from_secs(8640)); // 2.4 h
    assert_eq!(warning_lead(h(6)), h(1));
    assert_eq!(warning_lead(h(144)), Duration::from_secs(144 * 360)); // 14.4 h of 6 days
    assert_eq!(
        warning_lead(Duration::from_secs(600)),
        Duration::from_secs(300)
    );
}

#[test]
fn deadlines_warn_once_inside_their_lead_and_not_before_or_after() {
    let mut t = trade(TradeRole::Taker, "EscrowFunding");
    let mut e = escrow("buyer");
    let deadline = NOW + 24 * HOUR_MS;
    e.funding_deadline = Some(deadline);
    t.escrow = Some(e);
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&t), NOW);
    // 24 h window: the lead is 2.4 h.
    let lead = 8_640_000;
    assert!(
        engine
            .on_trades(std::slice::from_ref(&t), &all_on(), deadline - lead - 1)
            .is_empty()
    );
    let alerts = engine.on_trades(
        std::slice::from_ref(&t),
        &all_on(),
        deadline - lead + 60_000,
    );
    assert_eq!(titles(&alerts), ["Funding deadline near"]);
    assert_eq!(alerts[0].kind, AlertKind::Deadline);
    assert_eq!(
        alerts[0].body,
        "Fund the escrow of the 0.05 BTC trade within 2 h 23 min, or the trade expires."
    );
    assert!(
        engine
            .on_trades(std::slice::from_ref(&t), &all_on(), deadline - 1000)
            .is_empty()
    );
    // A new deadline (another step) warns again; a passed one does not.
    let mut paying = with_state(&t, "EscrowFunded");
    if let Some(e) = paying.escrow.as_mut() {
        e.payment_deadline = Some(deadline + 48 * HOUR_MS);
    }
    let at = deadline + 48 * HOUR_MS - HOUR_MS;
    let alerts = engine.on_trades(std::slice::from_ref(&paying), &all_on(), at);
    assert_eq!(
        titles(&alerts),
        ["Escrow confirmed", "Payment deadline near"]
    );
    assert_eq!(
        alerts[1].body,
        "Pay 3,000 EUR within 1 h, then mark the payment sent; after that the arbitrator decides."
    );
    let past = engine.on_trades(std::slice::from_ref(&paying), &all_on(), at + 2 * HOUR_MS);
    assert!(past.is_empty(), "{past:?}");
}

#[test]
fn payment_and_release_deadlines_speak_to_each_side() {
    let mut seller = trade(TradeRole::Maker, "EscrowFunded");
    let mut e = escrow("seller");
    e.payment_deadline = Some(NOW + 30 * 60_000);
    e.release_deadline = Some(NOW + 20 * 60_000);
    seller.escrow = Some(e);
    let mut engine = Alerts::new(windows(), &[], NOW);
    let alerts = engine.on_trades(std::slice::from_ref(&seller), &all_on(), NOW);
    assert_eq!(
        alerts[0].body,
        "The buyer of the 0.05 BTC trade has 30 min left to pay; after that the arbitrator decides."
    );
    let releasing = with_state(&seller, "PaymentConfirmed");
    let alerts = engine.on_trades(std::slice::from_ref(&releasing), &all_on(), NOW);
    assert_eq!(titles(&alerts), ["Release deadline near"]);
    assert!(
        alerts[0].body.contains("within 20 min"),
        "{}",
        alerts[0].body
    );
    // Once the release is on its way, its deadline is no longer news.
    let mut released = releasing.clone();
    if let Some(e) = released.escrow.as_mut() {
        e.release_txid = Some("ab".repeat(32));
        e.release_deadline = Some(NOW + 19 * 60_000);
    }
    assert!(
        engine
            .on_trades(std::slice::from_ref(&released), &all_on(), NOW)
            .is_empty()
    );
}

#[test]
fn the_payment_window_follows_the_method_when_not_configured() {
    let mut w = windows();
    w.payment = None;
    let mut t = trade(TradeRole::Taker, "EscrowFunded");
    let mut e = escrow("buyer");
    // SEPA gives six days: the lead is 14.4 h.
    e.payment_deadline = Some(NOW + 14 * HOUR_MS);
    t.escrow = Some(e);
    let mut engine = Alerts::new(w, &[], NOW);
    let alerts = engine.on_trades(std::slice::from_ref(&t), &all_on(), NOW);
    assert_eq!(titles(&alerts), ["Payment deadline near"]);
    assert!(alerts[0].body.contains("within 14 h"), "{}", alerts[0].body);
}

#[test]
fn deadlines_already_near_at_start_are_not_announced_again() {
    let mut t = trade(TradeRole::Taker, "EscrowFunding");
    let mut e = escrow("buyer");
    e.funding_deadline = Some(NOW + HOUR_MS);
    t.escrow = Some(e);
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&t), NOW);
    assert!(
        engine
            .on_trades(std::slice::from_ref(&t), &all_on(), NOW)
            .is_empty()
    );
}

#[test]
fn each_preference_silences_its_own_kind_and_nothing_is_replayed_when_turned_on_again() {
    let off = |f: fn(&mut NotificationPrefs)| {
        let mut p = NotificationPrefs::default();
        f(&mut p);
        p
    };
    // Offer taken.
    let t = trade(TradeRole::Maker, "Requested");
    let take = TradeEvent::TakeRequested {
        trade: Box::new(t.clone()),
    };
    let mut engine = Alerts::new(windows(), &[], NOW);
    assert!(
        engine
            .on_event(&take, &off(|p| p.offer_taken = false), NOW)
            .is_empty()
    );
    assert!(
        engine.on_event(&take, &all_on(), NOW).is_empty(),
        "replayed"
    );
    // Messages: chat and negotiation steps.
    let no_messages = off(|p| p.message = false);
    assert!(
        engine
            .on_event(&chat(t.id, false, "hi"), &no_messages, NOW)
            .is_empty()
    );
    assert_eq!(
        engine
            .on_event(&chat(t.id, false, "hi"), &all_on(), NOW)
            .len(),
        1
    );
    let taker_view = trade(TradeRole::Taker, "Requested");
    let mut taker = Alerts::new(windows(), std::slice::from_ref(&taker_view), NOW);
    let accepted = with_state(&taker_view, "Accepted");
    assert!(
        taker
            .on_event(&updated(&accepted), &no_messages, NOW)
            .is_empty()
    );
    assert!(
        taker
            .on_event(&updated(&accepted), &all_on(), NOW)
            .is_empty(),
        "replayed"
    );
    // Escrow steps, while the other kinds still come through.
    let mut e = trade(TradeRole::Taker, "EscrowFunding");
    let mut view = escrow("buyer");
    view.payment_deadline = Some(NOW + 10 * 60_000);
    e.escrow = Some(view);
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&e), NOW);
    let funded = with_state(&e, "EscrowFunded");
    let alerts = engine.on_event(&updated(&funded), &off(|p| p.escrow = false), NOW);
    assert_eq!(titles(&alerts), ["Payment deadline near"]);
    // Deadlines.
    let mut engine = Alerts::new(windows(), std::slice::from_ref(&e), NOW);
    let alerts = engine.on_event(&updated(&funded), &off(|p| p.deadline = false), NOW);
    assert_eq!(titles(&alerts), ["Escrow confirmed"]);
    assert!(
        engine
            .on_trades(std::slice::from_ref(&funded), &all_on(), NOW)
            .is_empty(),
        "replayed"
    );
}

#[test]
fn money_is_grouped_and_rounded_for_people() {
    let eur = Quote::Fiat(Fiat::Eur);
    assert_eq!(money(Decimal::from(3000), eur), "3,000");
    assert_eq!(money(Decimal::new(123_456_789, 2), eur), "1,234,567.89");
    assert_eq!(money(Decimal::new(5, 1), eur), "0.50");
    assert_eq!(money(Decimal::new(999, 0), eur), "999");
    assert_eq!(
        money(Decimal::new(123_456_789_012, 8), Quote::Asset(Asset::Ltc)),
        "1,234.56789012"
    );
    assert_eq!(premium(-250), "-2.5 %");
    assert_eq!(premium(0), "(no premium)");
    assert_eq!(duration_words(90 * 60_000), "1 h 30 min");
    assert_eq!(duration_words(26 * HOUR_MS), "1 day 2 h");
    assert_eq!(duration_words(1), "1 min");
}

#[test]
fn open_trades_are_the_ones_not_in_a_final_state() {
    let is_open_state = |text: &str| {
        text.parse::<crate::trading::TradeState>()
            .unwrap()
            .is_open()
    };
    for open in [
        "Requested",
        "Countered",
        "Accepted",
        "EscrowFunding",
        "PaymentSent",
        "Disputed",
    ] {
        assert!(is_open_state(open), "{open}");
    }
    for over in ["Rejected", "Completed", "Cancelled", "Expired", "Resolved"] {
        assert!(!is_open_state(over), "{over}");
    }
    // A state this version does not know is not a state: reading one from the database is refused
    // (protocol::state tests), never taken for a closed trade.
    assert!(
        "SomethingNew"
            .parse::<crate::trading::TradeState>()
            .is_err()
    );
}

fn search(name: &str, query: crate::book::BookQuery) -> crate::preferences::SavedSearch {
    crate::preferences::SavedSearch {
        id: Uuid::new_v4(),
        name: name.into(),
        query,
    }
}

#[test]
fn a_new_offer_matching_a_saved_search_is_announced_once_and_never_my_own() {
    let offer = trade(TradeRole::Taker, "Requested").offer;
    let me = PeerId::random();
    let btc_eur = search(
        "BTC for euros",
        crate::book::BookQuery {
            base: Some(Asset::Btc),
            quote: Some(Quote::Fiat(Fiat::Eur)),
            side: Some(Side::Sell),
            method: Some(PaymentMethod::new("SEPA").unwrap()),
            amount: Some(5_000_000),
            include_mine: None,
        },
    );
    let too_much = search(
        "a whole coin",
        crate::book::BookQuery {
            amount: Some(100_000_000),
            ..Default::default()
        },
    );
    let by_cash = search(
        "cash",
        crate::book::BookQuery {
            method: Some(PaymentMethod::new("CASH").unwrap()),
            ..Default::default()
        },
    );
    let ltc = search(
        "litecoin",
        crate::book::BookQuery {
            base: Some(Asset::Ltc),
            ..Default::default()
        },
    );
    let anything = search("anything", Default::default());
    let searches = [btc_eur.clone(), too_much, by_cash, ltc, anything.clone()];
    let mut matcher = SearchMatcher::default();
    let matched: Vec<Uuid> = matcher
        .on_offer(&offer, &searches, &me)
        .into_iter()
        .map(|e| match e {
            crate::market::MarketEvent::OfferMatched {
                search_id,
                offer: o,
                ..
            } => {
                assert_eq!(o.id, offer.id);
                search_id
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(matched, [btc_eur.id, anything.id]);
    // Seen again (a republication): no news.
    assert!(matcher.on_offer(&offer, &searches, &me).is_empty());
    // My own offer never alerts.
    let mut mine = offer.clone();
    mine.id = Uuid::new_v4();
    assert!(matcher.on_offer(&mine, &searches, &mine.maker).is_empty());
}

#[test]
fn a_match_says_which_search_who_what_and_at_what_price_in_souk_s_words() {
    let mut offer = trade(TradeRole::Taker, "Requested").offer;
    offer.terms = "\u{1b}[2J call me on +1 555".into();
    let alert = offer_matched("BTC for euros", &offer);
    assert_eq!(alert.kind, AlertKind::OfferMatched);
    assert_eq!((alert.trade_id, alert.offer_id), (None, Some(offer.id)));
    assert_eq!(alert.title, "New offer for “BTC for euros”");
    let who = crate::peer_name::peer_name(&offer.maker.to_string());
    assert_eq!(
        alert.body,
        format!("{who} sells 0.01–0.1 BTC at 60,000 EUR per BTC, by SEPA. Take it in Market.")
    );
    offer.side = Side::Buy;
    offer.price = Price::MarketRelative { premium_bps: -250 };
    let alert = offer_matched("x", &offer);
    assert!(
        alert
            .body
            .contains("buys 0.01–0.1 BTC at the market price -2.5 %"),
        "{}",
        alert.body
    );
    assert!(AlertKind::OfferMatched.allowed_by(&NotificationPrefs::default()));
    let off = NotificationPrefs {
        matching_offer: false,
        ..NotificationPrefs::default()
    };
    assert!(!AlertKind::OfferMatched.allowed_by(&off));
}
