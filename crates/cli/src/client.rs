//! The scripting commands (`souk peers`, `souk status`, `souk offer …`): they talk to the running
//! `souk node` of the same data directory through its local API, found in `api.json`, and print its
//! answers as tables or, with `--json`, as the API's JSON.
//!
//! They never open the keystore or the database themselves: the node owns those.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use souk_core::{
    book::BookEntry,
    offer::{Offer, Price, format_amount},
    trading::{ChatMessage, DisputeInfo, TradeInfo, Winner},
};

use crate::{
    Failure,
    api::{OfferRequest, PeerInfo, Refreshed, Status, Withdrawn},
    headless::read_api_file,
    print_json,
};

pub struct ApiClient {
    data_dir: PathBuf,
    url: String,
    token: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// Finds the running node of `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, Failure> {
        let file = read_api_file(data_dir).ok_or_else(|| no_node(data_dir))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| Failure::internal(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            url: file.url,
            token: file.token,
            http,
        })
    }

    /// One API call; the answer's JSON on success, a [`Failure`] with the API's reason otherwise.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url), query)
            .map_err(|e| Failure::internal(format!("bad API URL {}{path}: {e}", self.url)))?;
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = request.send().await.map_err(|e| {
            if e.is_connect() {
                no_node(&self.data_dir)
            } else {
                Failure::internal(format!("talking to the node at {}: {e}", self.url))
            }
        })?;
        let status = answer.status();
        let text = answer.text().await.map_err(|e| {
            Failure::internal(format!("reading the node's answer from {}: {e}", self.url))
        })?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                Failure::internal(format!("the node's answer is not JSON ({e}): {text}"))
            });
        }
        Err(api_failure(status, &text))
    }
}

impl ApiClient {
    /// One call: with `--json` the answer is printed as it came and `None` returned; otherwise the
    /// answer decoded for printing as text.
    async fn fetch<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        json: bool,
    ) -> Result<Option<T>, Failure> {
        let value = self.call(method, path, query, body).await?;
        if json {
            print_json(&value);
            return Ok(None);
        }
        decode(&value).map(Some)
    }
}

fn no_node(data_dir: &Path) -> Failure {
    Failure {
        kind: "offline".into(),
        message: format!(
            "no running node for {}: start one with `souk node`",
            data_dir.display()
        ),
        code: 1,
    }
}

/// 4xx: the user can fix it (exit 1); anything else: exit 2.
fn api_failure(status: StatusCode, text: &str) -> Failure {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let field = |name: &str| body[name].as_str().map(str::to_owned);
    Failure {
        kind: field("kind").unwrap_or_else(|| "internal".into()),
        message: field("message").unwrap_or_else(|| format!("the node answered {status}: {text}")),
        code: if status.is_client_error() { 1 } else { 2 },
    }
}

fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, Failure> {
    serde_json::from_value(value.clone())
        .map_err(|e| Failure::internal(format!("unexpected answer from the node ({e}): {value}")))
}

pub async fn status(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(status) = client
        .fetch::<Status>(Method::GET, "/api/v1/status", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    println!("PeerId:              {}", status.peer_id);
    println!("API:                 {}", client.url);
    println!("Connected peers:     {}", status.connected_peers);
    println!("DHT routing table:   {} peers", status.routing_table_size);
    println!("Stored DHT records:  {}", status.stored_records);
    println!("Listening on:");
    for addr in &status.listen_addrs {
        println!("  {addr}");
    }
    // The chain backend: escrows wait while it cannot be asked.
    let chain = client
        .fetch::<souk_core::node::ChainStatus>(Method::GET, "/api/v1/chain", &[], None, false)
        .await?;
    if let Some(chain) = chain {
        println!("Chain backend:       {}", chain_line(&chain));
    }
    Ok(())
}

/// The chain backend in one line: what it is, and connected at a height or why not.
fn chain_line(chain: &souk_core::node::ChainStatus) -> String {
    if !chain.configured {
        return "none (escrow trades need one: --rpc-url or --electrum-url)".into();
    }
    let url = chain.rpc_url.as_deref().unwrap_or("?");
    let kind = if url.starts_with("tcp://") || url.starts_with("ssl://") {
        "Electrum server"
    } else {
        "Core node"
    };
    let what = format!("{kind} {url} ({} {})", chain.chain, chain.network);
    match (chain.connected, chain.tip_height, &chain.error) {
        (true, Some(tip), _) => format!("{what}, connected at block {tip}"),
        (_, _, Some(error)) => format!(
            "{what}: {} (escrow trades wait until it answers)",
            error
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        ),
        _ => format!("{what}: not connected"),
    }
}

pub async fn peers(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(peers) = client
        .fetch::<Vec<PeerInfo>>(Method::GET, "/api/v1/peers", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    if peers.is_empty() {
        println!("No connected peers.");
    }
    for peer in peers {
        println!("{}", peer.peer_id);
    }
    Ok(())
}

pub async fn post_offer(
    client: &ApiClient,
    request: &OfferRequest,
    json: bool,
) -> Result<(), Failure> {
    let body = serde_json::to_value(request).map_err(|e| Failure::internal(e.to_string()))?;
    let Some(offer) = client
        .fetch::<Offer>(Method::POST, "/api/v1/offers", &[], Some(&body), json)
        .await?
    else {
        return Ok(());
    };
    println!("Posted offer {}", offer.id);
    println!(
        "  {} {}–{} {} at {}, paid by {}",
        offer.side,
        format_amount(offer.min_amount, offer.base),
        format_amount(offer.max_amount, offer.base),
        offer.base,
        price_text(&offer, None),
        methods_text(&offer),
    );
    println!(
        "  expires in {}",
        duration_text((offer.expires_at - offer.created_at) / 1000)
    );
    Ok(())
}

pub struct ListFilter {
    pub market: Option<String>,
    pub side: Option<String>,
    pub method: Option<String>,
    pub amount: Option<String>,
    pub mine: bool,
}

pub async fn list_offers(
    client: &ApiClient,
    filter: ListFilter,
    json: bool,
) -> Result<(), Failure> {
    let mut query = Vec::new();
    let fields = [
        ("market", filter.market),
        ("side", filter.side),
        ("method", filter.method),
        ("amount", filter.amount),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            query.push((name, value));
        }
    }
    if filter.mine {
        query.push(("mine", "true".to_owned()));
    }
    let Some(entries) = client
        .fetch::<Vec<BookEntry>>(Method::GET, "/api/v1/offers", &query, None, json)
        .await?
    else {
        return Ok(());
    };
    if entries.is_empty() {
        println!("No offers.");
        return Ok(());
    }
    let now = now_ms();
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|e| {
            let o = &e.offer;
            [
                o.id.to_string(),
                o.side.to_string(),
                format!("{}/{}", o.base, o.quote),
                price_text(o, e.effective_price),
                format!(
                    "{}–{} {}",
                    format_amount(o.min_amount, o.base),
                    format_amount(o.max_amount, o.base),
                    o.base
                ),
                methods_text(o),
                if e.mine {
                    "you".to_owned()
                } else {
                    abbreviate(&o.maker.to_string())
                },
                format!(
                    "{} ago",
                    duration_text((now - e.maker_last_seen).max(0) / 1000)
                ),
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "SIDE", "MARKET", "PRICE", "AMOUNT", "METHODS", "MAKER", "SEEN",
        ],
        &rows,
    );
    Ok(())
}

pub async fn withdraw_offer(client: &ApiClient, id: &str, json: bool) -> Result<(), Failure> {
    let Some(withdrawn) = client
        .fetch::<Withdrawn>(
            Method::DELETE,
            &format!("/api/v1/offers/{id}"),
            &[],
            None,
            json,
        )
        .await?
    else {
        return Ok(());
    };
    println!("Withdrew offer {}", withdrawn.id);
    Ok(())
}

pub async fn refresh_market(client: &ApiClient, market: &str, json: bool) -> Result<(), Failure> {
    let (base, quote) = crate::api::parse_market(market).map_err(crate::user_error)?;
    let Some(refreshed) = client
        .fetch::<Refreshed>(
            Method::POST,
            &format!("/api/v1/markets/{base}/{quote}/refresh"),
            &[],
            None,
            json,
        )
        .await?
    else {
        return Ok(());
    };
    println!(
        "{}: {} new offer{}",
        refreshed.market,
        refreshed.new_offers,
        if refreshed.new_offers == 1 { "" } else { "s" }
    );
    Ok(())
}

pub async fn take(
    client: &ApiClient,
    request: &crate::trades_api::TakeRequest,
    json: bool,
) -> Result<(), Failure> {
    let body = serde_json::to_value(request).map_err(|e| Failure::internal(e.to_string()))?;
    let Some(trade) = client
        .fetch::<TradeInfo>(Method::POST, "/api/v1/trades", &[], Some(&body), json)
        .await?
    else {
        return Ok(());
    };
    println!("Took offer {}: trade {}", trade.offer.id, trade.id);
    print_trade(&trade);
    Ok(())
}

/// `accept`, `reject` or `counter` one trade.
pub async fn answer(
    client: &ApiClient,
    trade_id: &str,
    verb: &str,
    body: Option<Value>,
    json: bool,
) -> Result<(), Failure> {
    let Some(trade) = client
        .fetch::<TradeInfo>(
            Method::POST,
            &format!("/api/v1/trades/{trade_id}/{verb}"),
            &[],
            body.as_ref(),
            json,
        )
        .await?
    else {
        return Ok(());
    };
    print_trade(&trade);
    Ok(())
}

/// `souk trade fund`: builds the funding (and with `yes`, has the node's wallet sign and send it).
pub async fn fund(
    client: &ApiClient,
    trade_id: &str,
    wallet: &str,
    yes: bool,
    psbt: Option<&std::path::Path>,
    json: bool,
) -> Result<(), Failure> {
    let body = serde_json::json!({ "wallet": wallet, "broadcast": yes });
    let Some(funding) = client
        .fetch::<souk_core::trading::WalletFunding>(
            Method::POST,
            &format!("/api/v1/trades/{trade_id}/fund"),
            &[],
            Some(&body),
            json,
        )
        .await?
    else {
        return Ok(());
    };
    let coins = |units: u64| format!("{} {}", format_amount(units, funding.asset), funding.asset);
    if let Some(path) = psbt {
        std::fs::write(path, &funding.psbt).map_err(|e| {
            Failure::from(souk_core::error::Error::InvalidInput(format!(
                "cannot write {}: {e}",
                path.display()
            )))
        })?;
        println!("Unsigned PSBT written to {}", path.display());
    }
    match &funding.txid {
        Some(txid) => println!(
            "Sent {} to {} from wallet {}, fee {}: {txid}",
            coins(funding.amount),
            funding.address,
            funding.wallet,
            coins(funding.fee)
        ),
        None => println!(
            "Would send {} to {} from wallet {}, fee {}. Run again with --yes to sign and broadcast.",
            coins(funding.amount),
            funding.address,
            funding.wallet,
            coins(funding.fee)
        ),
    }
    Ok(())
}

pub async fn list_trades(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(trades) = client
        .fetch::<Vec<TradeInfo>>(Method::GET, "/api/v1/trades", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    if trades.is_empty() {
        println!("No trades.");
        return Ok(());
    }
    let rows: Vec<[String; 7]> = trades
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                t.role.to_string(),
                format!("{}/{}", t.offer.base, t.offer.quote),
                format!(
                    "{} {}",
                    format_amount(t.terms.amount, t.offer.base),
                    t.offer.base
                ),
                t.state.to_string(),
                next_text(t),
                t.unread.to_string(),
            ]
        })
        .collect();
    print_table(
        &["ID", "ROLE", "MARKET", "AMOUNT", "STATE", "NEXT", "UNREAD"],
        &rows,
    );
    Ok(())
}

pub async fn show_trade(client: &ApiClient, trade_id: &str, json: bool) -> Result<(), Failure> {
    let Some(trade) = client
        .fetch::<TradeInfo>(
            Method::GET,
            &format!("/api/v1/trades/{trade_id}"),
            &[],
            None,
            json,
        )
        .await?
    else {
        return Ok(());
    };
    print_trade(&trade);
    Ok(())
}

/// Whose turn it is, from this node's point of view.
fn next_text(trade: &TradeInfo) -> String {
    match trade.waiting_for {
        Some(role) if role == trade.role => format!("you: {}", trade.next_step),
        Some(role) => format!("the {}", role),
        None => trade.next_step.clone(),
    }
}

fn print_trade(t: &TradeInfo) {
    let o = &t.offer;
    println!("Trade {}", t.id);
    println!("  State:         {}", t.state);
    println!(
        "  You are:       the {} ({} {} {}/{})",
        t.role, o.side, o.base, o.base, o.quote
    );
    println!("  Counterparty:  {}", t.counterparty);
    println!("  Offer:         {}", o.id);
    println!(
        "  Amount:        {} {}",
        format_amount(t.terms.amount, o.base),
        o.base
    );
    let price = match t.terms.price {
        Price::Fixed(p) => format!("{p} {}", o.quote),
        Price::MarketRelative { .. } => price_text(o, None),
    };
    println!("  Price:         {price}");
    println!("  Method:        {}", t.terms.method);
    if !t.terms.payout.is_empty() {
        println!("  Payout:        {}", printable(&t.terms.payout));
    }
    if let Some(reason) = &t.reject_reason {
        println!(
            "  Rejected:      {}",
            if reason.is_empty() {
                "(no reason given)".into()
            } else {
                printable(reason)
            }
        );
    }
    if let Some(e) = &t.escrow {
        println!(
            "  Escrow:        {} on {} {} (you are the {})",
            e.address.as_deref().unwrap_or("(being set up)"),
            e.chain,
            e.network,
            e.side
        );
        println!(
            "  Holds:         {} of {} (amount {} + deposits {} and {}), {} confirmations",
            format_amount(e.funded, o.base),
            format_amount(e.required, o.base),
            format_amount(e.amount, o.base),
            format_amount(e.buyer_deposit, o.base),
            format_amount(e.seller_deposit, o.base),
            e.funding_confirmations
        );
        println!(
            "  You fund:      {} {} to your escrow output",
            format_amount(e.my_funding, o.base),
            o.base
        );
        for (whose, address, held, owed) in [
            (
                "Seller's",
                &e.seller_escrow_address,
                e.seller_funded,
                e.amount + e.seller_deposit,
            ),
            (
                "Buyer's",
                &e.buyer_escrow_address,
                e.buyer_funded,
                e.buyer_deposit,
            ),
        ] {
            if let Some(address) = address {
                println!(
                    "  {whose:<9} output: {address} holds {} of {} {}",
                    format_amount(held, o.base),
                    format_amount(owed, o.base),
                    o.base
                );
            }
        }
        println!(
            "  Fallbacks:     {}each party takes its own coins back alone {} blocks after they confirmed",
            match &e.backup_arbitrator {
                Some(b) => format!(
                    "backup arbitrator {b} may stand in {} blocks after funding; ",
                    e.backup_after_blocks
                ),
                None => String::new(),
            },
            e.reclaim_after_blocks
        );
        for r in &e.returns {
            println!(
                "  Return:        {} {} of the {}'s coins to {} ({})",
                format_amount(r.amount, o.base),
                o.base,
                r.funder,
                r.address,
                match &r.txid {
                    Some(txid) => format!("{}, txid {txid}", return_how(&r.how)),
                    None => format!("{}, not broadcast yet", return_how(&r.how)),
                }
            );
            if let (Some(how), Some(txid)) = (&r.reserve_how, &r.reserve_txid) {
                println!(
                    "                 its fee reserve {} paid on, txid {txid}{}",
                    if how == "bumped" {
                        "sped it up and was"
                    } else {
                        "was"
                    },
                    if r.reserve_done { ", confirmed" } else { "" }
                );
            }
        }
        if let Some(txid) = &e.release_txid {
            println!(
                "  Release:       {txid} ({} confirmations)",
                e.release_confirmations
            );
        }
        if let Some(r) = &e.fee_reserve {
            let amount = format!("{} {}", format_amount(r.amount, o.base), o.base);
            let spent = match (r.how.as_deref(), &r.txid) {
                (Some(how), Some(txid)) => format!(
                    "{} to the payout address ({} {} after the fee), txid {txid}{}",
                    if how == "bumped" {
                        "spent to speed up the stuck payout, and paid on"
                    } else {
                        "paid on"
                    },
                    format_amount(r.paid_on.unwrap_or(0), o.base),
                    o.base,
                    if r.done { ", confirmed" } else { "" }
                ),
                _ => "set aside from the payout; the receiving party's node pays it on once the \
                      payout confirms, or spends it to speed up a payout stuck at a low fee"
                    .into(),
            };
            println!("  Fee reserve:   {amount} {spent}");
        }
        if let Some(d) = &e.decision {
            println!(
                "  Decision:      the buyer gets {} {}, the seller {} {} (before the fee){}",
                format_amount(d.buyer_share, o.base),
                o.base,
                format_amount(d.seller_share, o.base),
                o.base,
                if d.round > 1 {
                    format!(", decision {}", d.round)
                } else {
                    String::new()
                }
            );
            if !d.reason.is_empty() {
                println!("  Why:           {}", printable(&d.reason));
            }
        }
    }
    println!("  Next:          {}", printable(&t.next_step));
    if t.unread > 0 {
        println!("  Unread:        {} (souk chat log {})", t.unread, t.id);
    }
}

pub async fn send_chat(
    client: &ApiClient,
    trade_id: &str,
    text: &str,
    json: bool,
) -> Result<(), Failure> {
    let body = serde_json::json!({ "text": text });
    let Some(message) = client
        .fetch::<ChatMessage>(
            Method::POST,
            &format!("/api/v1/trades/{trade_id}/messages"),
            &[],
            Some(&body),
            json,
        )
        .await?
    else {
        return Ok(());
    };
    println!(
        "Sent message #{} (delivered when the counterparty is reachable)",
        message.seq
    );
    Ok(())
}

/// Prints the log, then marks the counterparty's messages read (which sends a read receipt).
pub async fn chat_log(client: &ApiClient, trade_id: &str, json: bool) -> Result<(), Failure> {
    let path = format!("/api/v1/trades/{trade_id}/messages");
    let value = client.call(Method::GET, &path, &[], None).await?;
    let messages: Vec<ChatMessage> = decode(&value)?;
    if json {
        print_json(&value);
    } else if messages.is_empty() {
        println!("No messages.");
    } else {
        for m in &messages {
            let who = if m.outgoing { "you" } else { "them" };
            let mark = match (m.outgoing, m.delivered_at, m.read_at) {
                (true, _, Some(_)) => " [read]",
                (true, Some(_), None) => " [delivered]",
                (true, None, _) => " [pending]",
                (false, ..) => "",
            };
            // Plain text: control characters are shown escaped, never interpreted by the terminal.
            let body = printable(&m.body);
            println!("{} {who:>4}: {body}{mark}", time_text(m.sent_at));
        }
    }
    if messages.iter().any(|m| !m.outgoing && m.read_at.is_none()) {
        client
            .call(
                Method::POST,
                &format!("/api/v1/trades/{trade_id}/read"),
                &[],
                None,
            )
            .await?;
    }
    Ok(())
}

pub async fn disputes(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(list) = client
        .fetch::<Vec<DisputeInfo>>(Method::GET, "/api/v1/disputes", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    if list.is_empty() {
        println!("No disputes.");
        return Ok(());
    }
    let rows: Vec<[String; 4]> = list
        .iter()
        .map(|d| {
            [
                d.trade_id.to_string(),
                format!("{} {}", d.chain, d.network),
                d.cases
                    .iter()
                    .map(|c| format!("{}: {}", c.side, printable(&c.reason)))
                    .collect::<Vec<_>>()
                    .join(" | "),
                match (&d.resolved_to, &d.decision) {
                    (Some(_), Some(x)) if x.can_decide_again => "refused: decide again".to_owned(),
                    (Some(Winner::Split), _) => "split".to_owned(),
                    (Some(w), _) => format!("to the {w}"),
                    (None, _) => "open".to_owned(),
                },
            ]
        })
        .collect();
    print_table(&["TRADE", "CHAIN", "REASONS", "DECISION"], &rows);
    Ok(())
}

/// Shows one dispute, or decides it (`decision`: the body of `POST …/resolve`).
pub async fn dispute(
    client: &ApiClient,
    trade_id: &str,
    decision: Option<&serde_json::Value>,
    json: bool,
) -> Result<(), Failure> {
    let value = match decision {
        Some(body) => {
            client
                .call(
                    Method::POST,
                    &format!("/api/v1/disputes/{trade_id}/resolve"),
                    &[],
                    Some(body),
                )
                .await?
        }
        None => {
            client
                .call(
                    Method::GET,
                    &format!("/api/v1/disputes/{trade_id}"),
                    &[],
                    None,
                )
                .await?
        }
    };
    if json {
        print_json(&value);
        return Ok(());
    }
    let d: DisputeInfo = decode(&value)?;
    println!("Dispute about trade {}", d.trade_id);
    println!("  Chain:    {} {}", d.chain, d.network);
    println!("  Escrow:   {}", d.escrow_address);
    println!(
        "  Buyer:    {} (paid to {})",
        d.buyer,
        printable(&d.buyer_address)
    );
    println!(
        "  Seller:   {} (refunded to {})",
        d.seller, d.seller_address
    );
    println!(
        "  Amount:   {} (+ deposits {} buyer, {} seller)",
        format_amount(d.amount, d.offer.base),
        format_amount(d.buyer_deposit, d.offer.base),
        format_amount(d.seller_deposit, d.offer.base)
    );
    println!(
        "  Opened:   {}",
        d.opened_by
            .map_or("by a deadline".to_owned(), |s| format!("by the {s}"))
    );
    for case in &d.cases {
        println!("  The {}'s case:", case.side);
        println!("    Reason: {}", printable(&case.reason));
        for line in &case.transcript {
            println!("    {}", printable(line));
        }
    }
    let base = d.offer.base;
    match &d.on_chain {
        Some(held) => println!(
            "  On chain: {} in the buyer's output, {} in the seller's ({} in all; agreed: {} and {})",
            format_amount(held.buyer_output, base),
            format_amount(held.seller_output, base),
            format_amount(held.buyer_output + held.seller_output, base),
            format_amount(d.buyer_deposit, base),
            format_amount(d.amount + d.seller_deposit, base)
        ),
        None => println!("  On chain: not known now (no chain connection)"),
    }
    let decide = format!(
        "souk dispute resolve {} --to buyer|seller|split [--buyer-gets X] [--reason TEXT]",
        d.trade_id
    );
    match &d.decision {
        Some(decision) => {
            println!(
                "  Decided:  the buyer gets {}, the seller {} (before the fee; decision {})",
                format_amount(decision.buyer_share, base),
                format_amount(decision.seller_share, base),
                decision.round
            );
            if !decision.reason.is_empty() {
                println!("    Reason: {}", printable(&decision.reason));
            }
            for (side, answer) in [
                ("buyer", &decision.buyer_answer),
                ("seller", &decision.seller_answer),
            ] {
                let answer = answer
                    .as_deref()
                    .map_or("no answer yet".to_owned(), printable);
                println!("    The {side}: {answer}");
            }
            if decision.can_decide_again {
                println!("  A party refused it and none took it; decide again: {decide}");
            }
        }
        None => println!("  Decide:   {decide}"),
    }
    Ok(())
}

/// How a return is made, in words.
fn return_how(how: &str) -> String {
    match how {
        "signed" => "signed by this node, the counterparty broadcasts".into(),
        "cosigned" => "co-signed by both parties".into(),
        "arbitrated" => "co-signed by the arbitrator".into(),
        "reclaimed" => "taken back alone after the reclaim lock".into(),
        other => printable(other),
    }
}

/// Peer text as it can be shown in a terminal: control characters (escape sequences that move the
/// cursor, recolour or retitle the terminal, line breaks that forge lines) and the invisible marks that
/// reorder text (bidirectional overrides) are shown escaped (`\u{1b}`), everything else as it is.
fn printable(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    };
    text.chars()
        .map(|c| {
            if hidden(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Unix ms as `HH:MM:SS` UTC.
fn time_text(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn price_text(offer: &Offer, effective: Option<rust_decimal::Decimal>) -> String {
    match offer.price {
        Price::Fixed(p) => format!("{p} {}", offer.quote),
        Price::MarketRelative { premium_bps } => {
            let premium = rust_decimal::Decimal::new(i64::from(premium_bps), 2).normalize();
            let sign = if premium_bps >= 0 { "+" } else { "" };
            match effective {
                Some(p) => format!("{p} {} (market {sign}{premium}%)", offer.quote),
                None => format!("market {sign}{premium}% (no market price available)"),
            }
        }
    }
}

fn methods_text(offer: &Offer) -> String {
    offer
        .payment_methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `12D3KooWAbc…wxyz`.
fn abbreviate(peer: &str) -> String {
    let chars: Vec<char> = peer.chars().collect();
    if chars.len() <= 16 {
        return peer.to_owned();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Seconds as `42s`, `5m`, `3h`, `2d`.
fn duration_text(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn print_table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn peer_text_cannot_drive_the_terminal() {
        use super::printable;
        assert_eq!(printable("rltc1q… ok"), "rltc1q… ok");
        assert_eq!(
            printable("paid\u{1b}[2J\u{1b}]0;title\u{7}\nforged line"),
            "paid\\u{1b}[2J\\u{1b}]0;title\\u{7}\\u{a}forged line"
        );
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn the_chain_backend_is_one_line_naming_its_kind_and_why_it_cannot_be_used() {
        use souk_core::{
            escrow::{Chain, Network},
            node::ChainStatus,
        };
        let base = ChainStatus {
            configured: true,
            chain: Chain::Ltc,
            network: Network::Regtest,
            rpc_url: Some("tcp://127.0.0.1:50001".into()),
            connected: true,
            tip_height: Some(120),
            confirmations: 1,
            error: None,
        };
        assert_eq!(
            chain_line(&base),
            "Electrum server tcp://127.0.0.1:50001 (ltc regtest), connected at block 120"
        );
        let down = ChainStatus {
            rpc_url: Some("http://127.0.0.1:19443/".into()),
            connected: false,
            tip_height: None,
            error: Some("cannot reach the chain node\u{1b}[31m".into()),
            ..base.clone()
        };
        let line = chain_line(&down);
        assert!(
            line.starts_with("Core node http://127.0.0.1:19443/"),
            "{line}"
        );
        assert!(
            line.contains("cannot reach") && line.contains("wait"),
            "{line}"
        );
        assert!(!line.contains('\u{1b}'), "{line}");
        let none = ChainStatus {
            configured: false,
            ..base
        };
        assert!(chain_line(&none).starts_with("none"));
    }

    use std::str::FromStr;

    use libp2p::identity::Keypair;
    use rust_decimal::Decimal;
    use souk_core::offer::{Asset, EscrowKind, Fiat, NewOffer, PaymentMethod, Quote, Side};

    use super::*;

    fn offer(price: Price) -> Offer {
        let new = NewOffer {
            side: Side::Sell,
            base: Asset::Btc,
            quote: Quote::Fiat(Fiat::Eur),
            price,
            min_amount: 1,
            max_amount: 2,
            payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
            escrow: EscrowKind::None,
            deposit_bps: 0,
            maker_x25519: [1; 32],
            ttl_ms: 3_600_000,
            terms: String::new(),
        };
        Offer::new(
            Keypair::generate_ed25519().public().to_peer_id(),
            new,
            1_800_000_000_000,
        )
        .unwrap()
    }

    #[test]
    fn prices_say_when_no_market_price_is_known() {
        let fixed = offer(Price::Fixed(Decimal::from(60_000)));
        assert_eq!(price_text(&fixed, Some(Decimal::from(60_000))), "60000 EUR");
        let relative = offer(Price::MarketRelative { premium_bps: 150 });
        assert_eq!(
            price_text(&relative, None),
            "market +1.5% (no market price available)"
        );
        let priced = Decimal::from_str("60900").unwrap();
        assert_eq!(
            price_text(&relative, Some(priced)),
            "60900 EUR (market +1.5%)"
        );
        let below = offer(Price::MarketRelative { premium_bps: -200 });
        assert_eq!(
            price_text(&below, None),
            "market -2% (no market price available)"
        );
    }
}
