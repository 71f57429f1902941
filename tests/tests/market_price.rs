//! Market-relative offers show what they cost now: the node fetches the market's price from an
//! exchange ticker (here a real HTTP server on loopback) and prices the offer with its premium. With no
//! price, the offer still lists, with its premium and no price.

use std::{str::FromStr, sync::Arc};

use rust_decimal::Decimal;
use souk_core::{
    book::BookQuery, config::Config, market::MarketEvent, net::NetConfig, offer::Price,
};
use souk_tests::{BTC_EUR, PASSPHRASE, TestDir, node_with, sell_offer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::Mutex,
};

/// A ticker that answers with whatever `body` holds at the time of the request.
async fn ticker(body: Arc<Mutex<(u16, String)>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let (status, text) = body.lock().await.clone();
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    format!("http://{addr}/v2/prices/{{base}}-{{quote}}/spot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_relative_offers_are_priced_from_the_ticker() {
    let answer = Arc::new(Mutex::new((404, r#"{"message":"not found"}"#.to_owned())));
    let mut config = Config::default();
    config.price.url = ticker(answer.clone()).await;
    config.price.refresh_secs = 1;
    let dir = TestDir::new();
    let node = node_with(&dir.path("maker"), config);
    node.create_identity(PASSPHRASE).await.expect("identity");
    let mut events = {
        node.start_network(NetConfig::loopback_for_tests(), &[BTC_EUR])
            .await
            .expect("network");
        node.market_events()
    };
    let offer = node
        .post_offer(souk_core::offer::NewOffer {
            price: Price::MarketRelative { premium_bps: 150 },
            ..sell_offer(0)
        })
        .await
        .expect("post");

    // No price yet: the offer lists all the same, without a price.
    let query = BookQuery {
        base: Some(BTC_EUR.0),
        quote: Some(BTC_EUR.1),
        ..Default::default()
    };
    let listed = node.offers(&query).await.expect("book");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].offer.id, offer.id);
    assert_eq!(listed[0].effective_price, None);
    assert!(
        node.market_price(BTC_EUR.0, BTC_EUR.1)
            .await
            .expect("price")
            .is_none()
    );

    // The ticker comes back; at its next fetch the offer gets its price: 60000 EUR + 1.5 %.
    *answer.lock().await = (
        200,
        r#"{"data":{"base":"BTC","currency":"EUR","amount":"60000.00"}}"#.to_owned(),
    );
    let updated = tokio::time::timeout(souk_tests::DEADLINE, async {
        loop {
            if let Ok(MarketEvent::PriceUpdated { price, .. }) = events.recv().await {
                return price;
            }
        }
    })
    .await
    .expect("a price update");
    assert_eq!(updated, Decimal::from(60_000));
    let listed = node.offers(&query).await.expect("book");
    assert_eq!(
        listed[0].effective_price,
        Some(Decimal::from_str("60900").expect("decimal"))
    );
    node.shutdown().await;
}
