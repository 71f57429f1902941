//! The holder's side against a real desk (real SQLite file, real loopback swarm): who may leave a copy,
//! who gets it back; a record put back into an empty database gives the same trade; a node behind its
//! own copy catches up.

use libp2p::PeerId;

use super::{
    CopyOffer, Record, RecoveryAnswer, RecoveryKeys, RecoveryRequest, on_request,
    restore::{catch_up, put_back},
    rows::build_record,
};
use crate::{
    identity::Identity,
    protocol::EnvelopeAnswer,
    store::Store,
    trading::{
        Desk, TradeConfig,
        store::{chat_log, trade_info},
        tests::{chat, desk_of, fixture, identity},
    },
};

async fn ask(desk: &Desk, from: PeerId, request: &RecoveryRequest) -> RecoveryAnswer {
    on_request(&desk.inner, from, &request.encode()).await
}

fn refused(answer: RecoveryAnswer, reason: &str) {
    match answer {
        RecoveryAnswer::Refused(r) => {
            assert!(r.contains(reason), "refused for {r:?}, not {reason:?}")
        }
        other => panic!("not refused ({reason}): {other:?}"),
    }
}

/// A second node of `who` on an empty database, as after its data directory was lost.
async fn fresh_desk(who: &Identity, dir: &std::path::Path) -> (Store, Desk) {
    let store = Store::open(&dir.join(crate::store::FILE_NAME))
        .await
        .unwrap();
    let desk = desk_of(who, &store, TradeConfig::default()).await;
    (store, desk)
}

#[tokio::test]
async fn only_the_counterparty_leaves_a_copy_and_only_it_gets_it_back() {
    let f = fixture().await;
    let (channel, _) = f.open().await;
    let trade_id = channel.trade_id;
    let taker = f.taker.peer_id();
    let stranger = identity().peer_id();
    let copy = |record: Vec<u8>, events| CopyOffer {
        trade_id,
        locator: [9; 32],
        record,
        events,
    };
    let keep = |record: Vec<u8>| RecoveryRequest::Keep(copy(record, 2));

    // A stranger, an unknown trade, an oversized copy and nonsense are refused, and nothing is kept.
    refused(
        ask(&f.desk, stranger, &keep(vec![1; 100])).await,
        "no trade",
    );
    let unknown = RecoveryRequest::Keep(CopyOffer {
        trade_id: uuid::Uuid::now_v7(),
        ..copy(vec![1; 100], 2)
    });
    refused(ask(&f.desk, taker, &unknown).await, "no trade");
    refused(
        ask(&f.desk, taker, &keep(vec![1; super::MAX_RECORD_BYTES + 1])).await,
        "over the limit",
    );
    refused(
        on_request(&f.desk.inner, taker, b"\xff\xff nonsense").await,
        "recovery request",
    );
    // Lodging a copy is for arbitrators only.
    let lodge = RecoveryRequest::Lodge {
        copy: copy(vec![1; 100], 2),
        case: vec![],
    };
    refused(ask(&f.desk, taker, &lodge).await, "not an arbitrator");
    assert_eq!(
        ask(&f.desk, taker, &RecoveryRequest::List).await,
        RecoveryAnswer::Listed(vec![])
    );

    // The counterparty's copy is kept, and the holder provides its locator while the trade is open.
    assert_eq!(
        ask(&f.desk, taker, &keep(vec![1; 100])).await,
        RecoveryAnswer::Stored
    );
    assert!(f.desk.inner.providing.lock().unwrap().contains(&[9; 32]));
    // One copy per trade at most every second; a newer one replaces the older.
    assert!(matches!(
        ask(&f.desk, taker, &keep(vec![2; 100])).await,
        RecoveryAnswer::Later(_)
    ));
    sqlx::query("UPDATE recovery_copies SET received_at = received_at - 5000")
        .execute(f.store.pool())
        .await
        .unwrap();
    assert_eq!(
        ask(&f.desk, taker, &keep(vec![3; 100])).await,
        RecoveryAnswer::Stored
    );
    // A copy holding less of the trade's log than the one kept is older: not kept, the owner is told.
    sqlx::query("UPDATE recovery_copies SET received_at = received_at - 5000")
        .execute(f.store.pool())
        .await
        .unwrap();
    let older = RecoveryRequest::Keep(copy(vec![4; 100], 1));
    assert_eq!(ask(&f.desk, taker, &older).await, RecoveryAnswer::Newer);

    let RecoveryAnswer::Listed(listed) = ask(&f.desk, taker, &RecoveryRequest::List).await else {
        panic!("no list");
    };
    assert_eq!(
        listed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [trade_id]
    );
    let fetch = RecoveryRequest::Fetch { trade_id };
    assert_eq!(
        ask(&f.desk, taker, &fetch).await,
        RecoveryAnswer::Record(vec![3; 100])
    );
    // Nobody else learns of it or gets it.
    assert_eq!(
        ask(&f.desk, stranger, &RecoveryRequest::List).await,
        RecoveryAnswer::Listed(vec![])
    );
    refused(ask(&f.desk, stranger, &fetch).await, "no copy");
}

#[tokio::test]
async fn a_record_puts_the_trade_back_into_an_empty_database_once() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let trade_id = channel.trade_id;
    for text in ["hello", "the IBAN is in the terms"] {
        let bytes = f
            .seal(&channel, &mut sender, &chat(text))
            .to_bytes()
            .unwrap();
        assert!(matches!(f.send(&bytes).await, EnvelopeAnswer::Ack { .. }));
    }
    let me = f.maker.peer_id();
    let record = {
        let mut conn = f.store.pool().acquire().await.unwrap();
        build_record(&mut conn, &me, trade_id).await.unwrap()
    };
    assert_eq!(record.chat_left_out, 0);
    // Through its seal, as it travels.
    let keys = RecoveryKeys::derive(f.maker.storage_key());
    let record = Record::open(&keys, trade_id, &record.seal(&keys).unwrap()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (store, desk) = fresh_desk(&f.maker, dir.path()).await;
    // A record naming a table it may not write is refused whole: nothing is written.
    let mut bad = record.clone();
    bad.tables.push(super::Table {
        name: "settings".into(),
        columns: vec!["key".into()],
        rows: vec![],
    });
    assert!(put_back(&desk.inner, bad).await.is_err());
    assert!(trade_info(store.pool(), &me, trade_id).await.is_err());

    let mut events = desk.subscribe();
    assert!(put_back(&desk.inner, record.clone()).await.unwrap());
    let original = trade_info(f.store.pool(), &me, trade_id).await.unwrap();
    // The shells hear of it (the alert "Trade recovered" follows from this event).
    match events.try_recv() {
        Ok(crate::trading::TradeEvent::Recovered { trade }) => assert_eq!(*trade, original),
        other => panic!("no Recovered event: {other:?}"),
    }
    let restored = trade_info(store.pool(), &me, trade_id).await.unwrap();
    assert_eq!(restored, original);
    assert_eq!(
        chat_log(store.pool(), &me, trade_id).await.unwrap(),
        chat_log(f.store.pool(), &me, trade_id).await.unwrap()
    );
    // The channel came back too: the next envelope from the counterparty is taken in order.
    let bytes = f
        .seal(&channel, &mut sender, &chat("still there?"))
        .to_bytes()
        .unwrap();
    assert_eq!(
        desk.inner.on_envelope(f.taker.peer_id(), &bytes).await,
        EnvelopeAnswer::Ack { next: 3 }
    );
    // A second copy of a trade that is here changes nothing.
    assert!(!put_back(&desk.inner, record).await.unwrap());
    desk.shutdown().await;
}

#[tokio::test]
async fn chat_that_does_not_fit_is_left_out_oldest_first() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    // Enough chat that the whole transcript cannot travel in one copy.
    let long = "x".repeat(crate::trading::wire::MAX_CHAT_CHARS);
    let max_per_minute = usize::try_from(f.desk.inner.config.max_chat_per_minute).unwrap();
    let count = (super::MAX_RECORD_BYTES / long.len() + 2).min(max_per_minute);
    for i in 0..count {
        let text = format!("{i:03}{}", &long[3..]);
        let bytes = f
            .seal(&channel, &mut sender, &chat(&text))
            .to_bytes()
            .unwrap();
        assert!(matches!(f.send(&bytes).await, EnvelopeAnswer::Ack { .. }));
    }
    let me = f.maker.peer_id();
    let mut conn = f.store.pool().acquire().await.unwrap();
    let record = build_record(&mut conn, &me, channel.trade_id)
        .await
        .unwrap();
    assert!(record.chat_left_out > 0, "all {count} messages fit");
    let keys = RecoveryKeys::derive(f.maker.storage_key());
    let sealed = record.seal(&keys).unwrap();
    assert!(sealed.len() <= super::MAX_RECORD_BYTES);
    let messages = record.tables.iter().find(|t| t.name == "messages").unwrap();
    let kept = messages.rows.len();
    assert_eq!(kept + usize::try_from(record.chat_left_out).unwrap(), count);
    // The newest are kept, oldest first.
    let body_at = messages.columns.iter().position(|c| c == "body").unwrap();
    let first = match &messages.rows[0][body_at] {
        super::Value::Text(t) => t[..3].to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(first, format!("{:03}", count - kept));
}

#[tokio::test]
async fn a_node_behind_its_own_copy_catches_up_only_to_a_copy_that_extends_its_log() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let trade_id = channel.trade_id;
    let bytes = f
        .seal(&channel, &mut sender, &chat("hello"))
        .to_bytes()
        .unwrap();
    assert!(matches!(f.send(&bytes).await, EnvelopeAnswer::Ack { .. }));
    // The maker accepts: a second signed step, the one the stale node lacks.
    f.desk
        .answer(trade_id, crate::trading::TradeAnswer::Accept)
        .await
        .unwrap();
    let me = f.maker.peer_id();
    let full = {
        let mut conn = f.store.pool().acquire().await.unwrap();
        build_record(&mut conn, &me, trade_id).await.unwrap()
    };
    let events = full.events();
    assert_eq!(events, 2, "the take and the accept");

    // A node restored from an older state: its log lacks the last step, its chat the message.
    let mut stale = full.clone();
    for table in &mut stale.tables {
        if table.name == "trade_events" || table.name == "messages" {
            table.rows.pop();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, desk) = fresh_desk(&f.maker, dir.path()).await;
    assert!(put_back(&desk.inner, stale.clone()).await.unwrap());
    // A copy that does not hold more, or holds another history, changes nothing.
    assert!(!catch_up(&desk.inner, stale.clone()).await.unwrap());
    let mut forked = full.clone();
    let events_table = forked
        .tables
        .iter_mut()
        .find(|t| t.name == "trade_events")
        .unwrap();
    let sig_at = events_table
        .columns
        .iter()
        .position(|c| c == "signature")
        .unwrap();
    for row in &mut events_table.rows {
        row[sig_at] = super::Value::Blob(vec![0; 64]);
    }
    assert!(!catch_up(&desk.inner, forked).await.unwrap());

    // The copy that extends it brings the node up to it.
    assert!(catch_up(&desk.inner, full.clone()).await.unwrap());
    assert_eq!(
        trade_info(store.pool(), &me, trade_id).await.unwrap(),
        trade_info(f.store.pool(), &me, trade_id).await.unwrap()
    );
    assert_eq!(
        chat_log(store.pool(), &me, trade_id).await.unwrap(),
        chat_log(f.store.pool(), &me, trade_id).await.unwrap()
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trade_events WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(count, i64::from(events));
    // Once level, the same copy changes nothing.
    assert!(!catch_up(&desk.inner, full).await.unwrap());
    desk.shutdown().await;
}
