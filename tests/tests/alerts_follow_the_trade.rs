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
    assert_eq!(got[0].trade_id, trade.id);
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
