//! Market prices, so market-relative offers ("1.5 % over market") can show what they cost now.
//!
//! A [`PriceSource`] answers "what is BASE worth in QUOTE"; [`HttpTicker`] asks a public exchange ticker
//! over HTTP (URL from config). A missing price is a normal state the UI shows, never a crash, and no
//! price is ever a float: everything is a [`Decimal`].

use std::{future::Future, time::Duration};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error_kind::ErrorKind;

/// Largest ticker response read; a public ticker answer is a few hundred bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Decimal places kept from a ticker (satoshi precision).
const PRICE_SCALE: u32 = 8;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    #[error("no {base}/{quote} price available: {reason}")]
    Unavailable {
        base: String,
        quote: String,
        reason: String,
    },
    #[error("the price source sent an unreadable {base}/{quote} answer: {reason}")]
    BadResponse {
        base: String,
        quote: String,
        reason: String,
    },
    #[error(
        "invalid price source URL template `{0}`: it must be http(s) and contain {{base}} and {{quote}}"
    )]
    BadTemplate(String),
}

impl PriceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unavailable { .. } | Self::BadResponse { .. } => ErrorKind::Io,
            Self::BadTemplate(_) => ErrorKind::InvalidInput,
        }
    }
}

/// One observed price: 1 BASE = `price` QUOTE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct MarketPrice {
    pub base: String,
    pub quote: String,
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub price: Decimal,
    pub fetched_at_ms: i64,
    pub source: String,
}

pub trait PriceSource: Send + Sync {
    fn price(
        &self,
        base: &str,
        quote: &str,
    ) -> impl Future<Output = Result<MarketPrice, PriceError>> + Send;
}

/// The price a market-relative offer asks: market × (1 + premium), at satoshi precision.
pub fn apply_premium(market: Decimal, premium_bps: i32) -> Decimal {
    let factor = Decimal::from(10_000 + i64::from(premium_bps)) / Decimal::from(10_000);
    (market * factor).round_dp(PRICE_SCALE)
}

/// A public exchange ticker over HTTP(S). Understands the two common shapes:
/// `{"symbol": "BTCEUR", "price": "60000.10"}` (Binance style) and
/// `{"data": {"base": "BTC", "currency": "EUR", "amount": "60000.10"}}` (Coinbase style).
#[derive(Debug, Clone)]
pub struct HttpTicker {
    client: reqwest::Client,
    template: String,
}

impl HttpTicker {
    /// The default: Coinbase's public spot price.
    pub const DEFAULT_TEMPLATE: &str = "https://api.coinbase.com/v2/prices/{base}-{quote}/spot";

    /// `template` names the URL with `{base}` and `{quote}` placeholders (upper-case tickers).
    pub fn new(template: &str, timeout: Duration) -> Result<Self, PriceError> {
        Self::through(template, timeout, None)
    }

    /// [`HttpTicker::new`] asking through a SOCKS5 proxy (Tor mode: tor's SOCKS port, which also
    /// resolves the host name, so no DNS query leaves this machine).
    pub fn through(
        template: &str,
        timeout: Duration,
        socks: Option<std::net::SocketAddr>,
    ) -> Result<Self, PriceError> {
        let valid = (template.starts_with("http://") || template.starts_with("https://"))
            && template.contains("{base}")
            && template.contains("{quote}");
        if !valid {
            return Err(PriceError::BadTemplate(template.to_owned()));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("souk/", env!("CARGO_PKG_VERSION")));
        if let Some(socks) = socks {
            let proxy = reqwest::Proxy::all(format!("socks5h://{socks}"))
                .map_err(|e| PriceError::BadTemplate(format!("{template} ({e})")))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| PriceError::BadTemplate(format!("{template} ({e})")))?;
        Ok(Self {
            client,
            template: template.to_owned(),
        })
    }

    fn url(&self, base: &str, quote: &str) -> String {
        self.template
            .replace("{base}", base)
            .replace("{quote}", quote)
    }
}

impl PriceSource for HttpTicker {
    async fn price(&self, base: &str, quote: &str) -> Result<MarketPrice, PriceError> {
        let (base, quote) = (base.to_ascii_uppercase(), quote.to_ascii_uppercase());
        let unavailable = |reason: String| PriceError::Unavailable {
            base: base.clone(),
            quote: quote.clone(),
            reason,
        };
        let bad = |reason: String| PriceError::BadResponse {
            base: base.clone(),
            quote: quote.clone(),
            reason,
        };
        let url = self.url(&base, &quote);
        let mut response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(describe(&e)))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("{url} answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(describe(&e)))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(bad(format!(
                    "answer larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let price = parse_ticker(&body, &base, &quote).map_err(bad)?;
        Ok(MarketPrice {
            base,
            quote,
            price,
            fetched_at_ms: crate::store::now_ms(),
            source: url,
        })
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the price source timed out".into()
    } else if e.is_connect() {
        "cannot connect to the price source".into()
    } else {
        e.to_string()
    }
}

/// Reads a price from either ticker shape; checks that it is for the pair asked and is positive.
pub(crate) fn parse_ticker(body: &[u8], base: &str, quote: &str) -> Result<Decimal, String> {
    #[derive(Deserialize)]
    struct Flat {
        symbol: Option<String>,
        price: serde_json::Value,
    }
    #[derive(Deserialize)]
    struct Spot {
        base: Option<String>,
        currency: Option<String>,
        amount: serde_json::Value,
    }
    #[derive(Deserialize)]
    struct Wrapped {
        data: Spot,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ticker {
        Wrapped(Wrapped),
        Flat(Flat),
    }

    let ticker: Ticker =
        serde_json::from_slice(body).map_err(|e| format!("not a known ticker format: {e}"))?;
    let raw = match ticker {
        Ticker::Wrapped(Wrapped { data }) => {
            let pair = (data.base.as_deref(), data.currency.as_deref());
            if pair.0.is_some_and(|b| !b.eq_ignore_ascii_case(base))
                || pair.1.is_some_and(|q| !q.eq_ignore_ascii_case(quote))
            {
                return Err(format!(
                    "the answer is for {}/{}",
                    pair.0.unwrap_or("?"),
                    pair.1.unwrap_or("?")
                ));
            }
            data.amount
        }
        Ticker::Flat(Flat { symbol, price }) => {
            if let Some(symbol) =
                symbol.filter(|s| !s.eq_ignore_ascii_case(&format!("{base}{quote}")))
            {
                return Err(format!("the answer is for {symbol}"));
            }
            price
        }
    };
    // Prices arrive as strings (exact) or, from some tickers, JSON numbers: read both as decimal text.
    let text = match &raw {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        other => return Err(format!("price is {other}, not a number")),
    };
    let price: Decimal = text
        .trim()
        .parse()
        .map_err(|e| format!("price `{text}`: {e}"))?;
    if price <= Decimal::ZERO {
        return Err(format!("price {price} is not positive"));
    }
    Ok(price.round_dp(PRICE_SCALE).normalize())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// A real HTTP server on loopback that answers every request with `status` and `body`, and reports
    /// the request line it saw.
    async fn serve(
        status: &'static str,
        body: String,
    ) -> (String, tokio::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(request).await;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        (
            format!("http://{addr}/v2/prices/{{base}}-{{quote}}/spot"),
            rx,
        )
    }

    fn ticker(template: &str) -> HttpTicker {
        HttpTicker::new(template, Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn reads_a_coinbase_style_spot_price_over_http() {
        let (url, mut requests) = serve(
            "200 OK",
            r#"{"data":{"base":"BTC","currency":"EUR","amount":"60123.456789123"}}"#.into(),
        )
        .await;
        let price = ticker(&url).price("btc", "eur").await.unwrap();
        assert_eq!(price.price, dec("60123.45678912"));
        assert_eq!((price.base.as_str(), price.quote.as_str()), ("BTC", "EUR"));
        assert_eq!(
            requests.recv().await.unwrap(),
            "GET /v2/prices/BTC-EUR/spot HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn reads_a_binance_style_price_over_http() {
        let (url, _) = serve("200 OK", r#"{"symbol":"LTCUSD","price":"84.10"}"#.into()).await;
        assert_eq!(
            ticker(&url).price("LTC", "USD").await.unwrap().price,
            dec("84.1")
        );
    }

    #[tokio::test]
    async fn no_price_is_a_clear_error_not_a_crash() {
        let (url, _) = serve(
            "404 Not Found",
            r#"{"errors":[{"message":"Invalid currency"}]}"#.into(),
        )
        .await;
        let err = ticker(&url).price("BTC", "XYZ").await.unwrap_err();
        assert!(matches!(err, PriceError::Unavailable { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("no BTC/XYZ price available"),
            "{err}"
        );

        // Nothing listening: the port is taken from a listener that is then closed.
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let err = ticker(&format!("http://{closed}/{{base}}/{{quote}}"))
            .price("BTC", "EUR")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cannot connect"), "{err}");
    }

    #[tokio::test]
    async fn hostile_answers_are_refused() {
        let cases = [
            (r#"{"symbol":"ETHEUR","price":"3000"}"#.to_owned(), "ETHEUR"),
            (
                r#"{"data":{"base":"LTC","currency":"EUR","amount":"80"}}"#.to_owned(),
                "LTC/EUR",
            ),
            (
                r#"{"symbol":"BTCEUR","price":"-1"}"#.to_owned(),
                "not positive",
            ),
            (
                r#"{"symbol":"BTCEUR","price":"0"}"#.to_owned(),
                "not positive",
            ),
            (r#"{"symbol":"BTCEUR","price":"lots"}"#.to_owned(), "lots"),
            (
                r#"{"symbol":"BTCEUR","price":true}"#.to_owned(),
                "not a number",
            ),
            (
                "<html>maintenance</html>".to_owned(),
                "not a known ticker format",
            ),
            (
                format!(
                    r#"{{"symbol":"BTCEUR","price":"1","pad":"{}"}}"#,
                    "x".repeat(70_000)
                ),
                "larger than",
            ),
        ];
        for (body, needle) in cases {
            let (url, _) = serve("200 OK", body).await;
            let err = ticker(&url).price("BTC", "EUR").await.unwrap_err();
            assert!(
                matches!(err, PriceError::BadResponse { .. }),
                "{needle}: {err:?}"
            );
            assert!(
                err.to_string().contains(needle),
                "expected {needle:?} in {err}"
            );
        }
    }

    #[test]
    fn templates_must_be_http_with_both_placeholders() {
        for bad in [
            "ftp://x/{base}/{quote}",
            "https://x/{base}",
            "https://x/{quote}",
            "",
        ] {
            assert!(
                matches!(
                    HttpTicker::new(bad, Duration::from_secs(1)),
                    Err(PriceError::BadTemplate(_))
                ),
                "{bad}"
            );
        }
        assert!(HttpTicker::new(HttpTicker::DEFAULT_TEMPLATE, Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn premium_is_applied_exactly() {
        assert_eq!(apply_premium(dec("60000"), 150), dec("60900"));
        assert_eq!(apply_premium(dec("60000"), -250), dec("58500"));
        assert_eq!(apply_premium(dec("0.00012345"), 1), dec("0.00012346"));
        assert_eq!(apply_premium(dec("100"), 0), dec("100"));
    }
}
