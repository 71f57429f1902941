//! Two real nodes trade, and each one's alerts (what the desktop shows as notifications) say what the
//! other side did: the maker hears that its offer was taken and what the taker wrote; nobody is told
//! about their own messages; a notification switched off in the preferences stays silent.

use souk_core::{
    alerts::{Alert, AlertKind},
    trading::TradeAnswer,
};
use souk_tests::{DEADLINE, TestNet, sell_offer};
use tokio::sync::broadcast;

/// Receives alerts until one satisfies `last`; returns every alert received, that one included.
async fn alerts_until(
    rx: &mut broadcast::Receiver<Alert>,
    what: &str,
    last: impl Fn(&Alert) -> bool,
) -> Vec<Alert> {
    let mut seen = Vec::new();
    let wait = async {
        loop {
            let alert = rx.recv().await.expect("the alert stream is open");
            let done = last(&alert);
            seen.push(alert);
            if done {
                return;
            }
        }
    };
    if tokio::time::timeout(DEADLINE, wait).await.is_err() {
        panic!("timed out waiting for {what}; alerts so far: {seen:?}");
    }
    seen
}

fn titles(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.title.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_tell_each_side_what_the_other_did() {
    let net = TestNet::start(3).await;
    let (maker, taker) = (&net.nodes[1], &net.nodes[2]);
    let mut maker_alerts = maker.node.alerts();
    let mut taker_alerts = taker.node.alerts();

    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    taker.await_offer(offer.id).await;
    let sepa = souk_core::offer::PaymentMethod::new("SEPA").unwrap();
    let trade = taker
        .node
        .take_offer(offer.id, 5_000_000, sepa, "IBAN DE00 1234".into())
        .await
        .expect("take");

    // The maker is told its offer was taken, in words.
    let got = alerts_until(&mut maker_alerts, "offer taken", |a| {
        a.kind == AlertKind::OfferTaken
    })
    .await;
    assert_eq!(titles(&got), ["Offer taken"]);
    assert_eq!(got[0].trade_id, Some(trade.id));
    // The taker by the name every node derives from its PeerId.
    let who = souk_core::peer_name::peer_name(&taker.info.peer_id);
    assert!(
        got[0].body.starts_with(&format!(
            "{who} wants to buy 0.05 BTC from you for 3,000 EUR, paying by SEPA."
        )),
        "{}",
        got[0].body
    );

    // The maker accepts; the taker hears of it, as a message from the other side.
    maker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .expect("accept");
    let got = alerts_until(&mut taker_alerts, "the accept", |a| {
        a.title == "Take accepted"
    })
    .await;
    assert_eq!(titles(&got), ["Take accepted"]);
    assert_eq!(got[0].kind, AlertKind::Message);

    // The taker writes (with markup and a bell character); the maker sees a clean excerpt.
    taker
        .node
        .send_chat(trade.id, "Hello <b>maker</b>\u{7}, paying today".into())
        .await
        .expect("chat");
    let got = alerts_until(&mut maker_alerts, "the taker's message", |a| {
        a.kind == AlertKind::Message
    })
    .await;
    assert_eq!(titles(&got), ["New message"]);
    assert_eq!(got[0].body, "“Hello <b>maker</b> , paying today”");

    // The maker answers; the taker hears the answer and nothing of its own message.
    maker
        .node
        .send_chat(trade.id, "Thanks, waiting for it".into())
        .await
        .expect("chat");
    let got = alerts_until(&mut taker_alerts, "the maker's answer", |a| {
        a.kind == AlertKind::Message
    })
    .await;
    assert_eq!(titles(&got), ["New message"]);
    assert_eq!(got[0].body, "“Thanks, waiting for it”");

    // A second message from the taker arrives after the maker's own answer was handled, so the
    // maker's stream between the two taker messages shows whether its own answer alerted.
    taker
        .node
        .send_chat(trade.id, "One more thing".into())
        .await
        .expect("chat");
    let got = alerts_until(&mut maker_alerts, "the second message", |a| {
        a.kind == AlertKind::Message
    })
    .await;
    assert_eq!(
        got.iter().map(|a| a.body.as_str()).collect::<Vec<_>>(),
        ["“One more thing”"],
        "the maker was told about its own message"
    );

    // The maker turns message notifications off: the taker's next message stays silent, while the
    // payment step that follows it on the same channel still alerts.
    let mut prefs = maker.node.preferences().await.expect("prefs");
    prefs.notifications.message = false;
    maker.node.save_preferences(prefs).await.expect("save");
    taker
        .node
        .send_chat(trade.id, "Sent it now".into())
        .await
        .expect("chat");
    taker.node.mark_paid(trade.id).await.expect("paid");
    let got = alerts_until(&mut maker_alerts, "the payment step", |a| {
        a.kind == AlertKind::Escrow
    })
    .await;
    assert_eq!(titles(&got), ["Payment sent"], "{got:?}");
    maker
        .await_chat(trade.id, "the silenced message", |log| {
            log.iter().any(|m| m.body == "Sent it now")
        })
        .await;

    // Unread counts follow: the maker has three unread messages until it reads them.
    assert_eq!(maker.node.unread_messages().await.expect("unread"), 3);
    let mut events = maker.node.trade_events();
    assert_eq!(maker.node.mark_read(trade.id).await.expect("read"), 3);
    assert_eq!(maker.node.unread_messages().await.expect("unread"), 0);
    // Reading is a trade update too, so a shell that shows the count (the tray) hears of it.
    let read = async {
        loop {
            if let souk_core::trading::TradeEvent::TradeUpdated { trade: t } =
                events.recv().await.expect("events open")
                && t.id == trade.id
            {
                return t.unread;
            }
        }
    };
    let unread = tokio::time::timeout(DEADLINE, read)
        .await
        .expect("a trade update after reading");
    assert_eq!(unread, 0);

    net.shutdown().await;
}

/// The next `OfferMatched` event of `events`.
async fn next_match(
    events: &mut broadcast::Receiver<souk_core::market::MarketEvent>,
) -> (String, uuid::Uuid) {
    let wait = async {
        loop {
            if let souk_core::market::MarketEvent::OfferMatched {
                search_name, offer, ..
            } = events.recv().await.expect("the market's events")
            {
                return (search_name, offer.id);
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("an offer matched a saved search in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_offer_matching_a_saved_search_is_announced_and_notified_while_wanted() {
    use souk_core::{
        book::BookQuery,
        offer::{Asset, Fiat, PaymentMethod, Quote, Side},
        preferences::SavedSearch,
    };
    let net = TestNet::start(3).await;
    let (watcher, maker) = (&net.nodes[1], &net.nodes[2]);
    let mut prefs = watcher.node.preferences().await.unwrap();
    prefs.saved_searches = vec![SavedSearch {
        id: uuid::Uuid::new_v4(),
        name: "BTC for 0.05, SEPA".into(),
        query: BookQuery {
            base: Some(Asset::Btc),
            quote: Some(Quote::Fiat(Fiat::Eur)),
            side: Some(Side::Sell),
            method: Some(PaymentMethod::new("SEPA").unwrap()),
            amount: Some(5_000_000),
            include_mine: None,
        },
    }];
    watcher.node.save_preferences(prefs.clone()).await.unwrap();
    let mut alerts = watcher.node.alerts();
    let mut events = watcher.node.market_events();

    // A buy offer does not match; the sell offer after it does, and only it.
    let mut buy = sell_offer(59_000);
    buy.side = Side::Buy;
    let not_wanted = maker.node.post_offer(buy).await.expect("post");
    let wanted = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    watcher.await_offer(not_wanted.id).await;
    assert_eq!(
        next_match(&mut events).await,
        ("BTC for 0.05, SEPA".to_owned(), wanted.id)
    );
    let got = alerts_until(&mut alerts, "the match's notification", |a| {
        a.kind == AlertKind::OfferMatched
    })
    .await;
    let alert = got.last().unwrap();
    assert_eq!(alert.offer_id, Some(wanted.id));
    assert_eq!(alert.title, "New offer for “BTC for 0.05, SEPA”");
    let who = souk_core::peer_name::peer_name(&maker.info.peer_id);
    assert!(
        alert
            .body
            .starts_with(&format!("{who} sells 0.01–0.1 BTC at 60,000 EUR per BTC")),
        "{}",
        alert.body
    );

    // With matching-offer notifications off, the event still comes (the API streams it), the
    // notification does not: it would have been sent before the event.
    prefs.notifications.matching_offer = false;
    watcher.node.save_preferences(prefs).await.unwrap();
    let quiet = maker
        .node
        .post_offer(sell_offer(61_000))
        .await
        .expect("post");
    assert_eq!(next_match(&mut events).await.1, quiet.id);
    assert!(
        std::iter::from_fn(|| alerts.try_recv().ok()).all(|a| a.kind != AlertKind::OfferMatched),
        "a matching-offer notification while they are off"
    );
    // The maker's own node announces none of its own offers.
    assert!(
        maker
            .node
            .preferences()
            .await
            .unwrap()
            .saved_searches
            .is_empty()
    );
    net.shutdown().await;
}
