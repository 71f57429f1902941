//! The OpenAPI 3.1 document of the local API, served at `/api/v1/openapi.json`. It describes the
//! routes of the table only; a test checks it names each of them and nothing else.

use axum::Json;
use serde_json::{Value, json};

use super::{backup, settings, table::NOT_OVER_HTTP};

pub(super) async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of [`routes`](super::table::routes).
pub fn openapi_document() -> Value {
    let error = json!({ "$ref": "#/components/responses/Error" });
    let errors = json!({ "400": error, "401": error, "500": error, "502": error, "503": error });
    let ok = |description: &str, schema: Value| json!({ "description": description, "content": { "application/json": { "schema": schema } } });
    let merge = |mut base: Value, extra: &Value| {
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    };
    let query_param = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let path_param = |name: &str, description: &str| json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } });
    let settings_paths = settings::openapi_paths(&errors);
    let backup_paths = backup::openapi_paths(&errors);
    let not_here: Vec<String> = NOT_OVER_HTTP
        .iter()
        .map(|(command, why)| format!("`{command}`: {why}"))
        .collect();
    let description = format!(
        "The local API of a running `souk node`. Bound to loopback; every route needs the bearer token from api.json in the data directory (`Authorization: Bearer TOKEN`, or `?token=TOKEN` where headers cannot be set, e.g. a browser WebSocket). Not served here: {}.",
        not_here.join("; ")
    );
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Souk node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": description
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/api/v1/status": { "get": {
                "summary": "This node: PeerId, listen addresses, connected peers, DHT routing table size",
                "responses": merge(json!({ "200": ok("Status", json!({ "$ref": "#/components/schemas/Status" })) }), &errors)
            }},
            "/api/v1/peers": { "get": {
                "summary": "Connected peers",
                "responses": merge(json!({ "200": ok("Peers", json!({ "type": "array", "items": { "type": "object", "properties": { "peer_id": { "type": "string" } } } })) }), &errors)
            }},
            "/api/v1/offers": {
                "get": {
                    "summary": "The order book, from this node's cache",
                    "parameters": [
                        query_param("market", "BASE/QUOTE, e.g. BTC/EUR", json!({ "type": "string" })),
                        query_param("side", "buy or sell (the maker's side)", json!({ "type": "string", "enum": ["buy", "sell"] })),
                        query_param("method", "payment method, e.g. SEPA", json!({ "type": "string" })),
                        query_param("amount", "only offers whose range contains this amount of the base asset, e.g. 0.05 (needs market)", json!({ "type": "string" })),
                        query_param("mine", "true: only this node's offers; false: only others'; absent: both", json!({ "type": "boolean" }))
                    ],
                    "responses": merge(json!({ "200": ok("Book entries, best price first", json!({ "type": "array", "items": { "$ref": "#/components/schemas/BookEntry" } })) }), &errors)
                },
                "post": {
                    "summary": "Sign, store and publish a new offer",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OfferRequest" } } } },
                    "responses": merge(json!({ "201": ok("The offer as published", json!({ "$ref": "#/components/schemas/Offer" })), "413": error }), &errors)
                }
            },
            "/api/v1/offers/{id}": { "delete": {
                "summary": "Withdraw one of this node's offers (a signed tombstone replaces it everywhere)",
                "parameters": [path_param("id", "the offer id (UUID)")],
                "responses": merge(json!({ "200": ok("Withdrawn", json!({ "type": "object", "properties": { "id": { "type": "string" }, "withdrawn": { "type": "boolean" } } })) }), &errors)
            }},
            "/api/v1/markets/{base}/{quote}/refresh": { "post": {
                "summary": "Ask the makers of a market for their offers",
                "parameters": [path_param("base", "base asset, e.g. BTC"), path_param("quote", "quote currency, e.g. EUR")],
                "responses": merge(json!({ "200": ok("How many offers were new", json!({ "type": "object", "properties": { "market": { "type": "string" }, "new_offers": { "type": "integer" } } })) }), &errors)
            }},
            "/api/v1/trades": {
                "get": {
                    "summary": "This node's trades, newest activity first (works offline)",
                    "responses": merge(json!({ "200": ok("Trades", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Trade" } })) }), &errors)
                },
                "post": {
                    "summary": "Take an offer: its maker must be reachable; opens the trade's encrypted channel",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["offer_id", "amount", "method"], "additionalProperties": false, "properties": {
                        "offer_id": { "type": "string" },
                        "amount": { "type": "string", "description": "in the offer's base asset, e.g. 0.05" },
                        "method": { "type": "string" },
                        "payout": { "type": "string", "description": "where the taker wants to be paid" }
                    }}}}},
                    "responses": merge(json!({ "201": ok("The new trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
                }
            },
            "/api/v1/trades/{id}": { "get": {
                "summary": "One trade (works offline)",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/accept": { "post": {
                "summary": "Accept the take request (maker) or the counter (taker)",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/reject": { "post": {
                "summary": "Reject the take request (maker) or the counter (taker)",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "reason": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/counter": { "post": {
                "summary": "Maker: propose another amount and/or fixed price",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false, "properties": {
                    "amount": { "type": "string", "description": "in the base asset, e.g. 0.02" },
                    "price": { "type": "string", "description": "fixed price per whole base coin" }
                }}}}},
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/messages": {
                "get": {
                    "summary": "The trade's chat in order (plain text; works offline)",
                    "parameters": [path_param("id", "the trade id (UUID)")],
                    "responses": merge(json!({ "200": ok("Messages", json!({ "type": "array", "items": { "$ref": "#/components/schemas/ChatMessage" } })) }), &errors)
                },
                "post": {
                    "summary": "Send a chat message (stored, then delivered when the counterparty is reachable)",
                    "parameters": [path_param("id", "the trade id (UUID)")],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["text"], "additionalProperties": false, "properties": { "text": { "type": "string", "maxLength": 4000 } } } } } },
                    "responses": merge(json!({ "201": ok("The stored message", json!({ "$ref": "#/components/schemas/ChatMessage" })) }), &errors)
                }
            },
            "/api/v1/trades/{id}/read": { "post": {
                "summary": "Mark the counterparty's messages read and send it a read receipt",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("How many were marked", json!({ "type": "object", "properties": { "trade_id": { "type": "string" }, "marked": { "type": "integer" } } })) }), &errors)
            }},
            "/api/v1/trades/{id}/address": { "post": {
                "summary": "Escrow trades: the address this party's coins go to (buyer: payout; seller: deposit refund); sends the escrow keys",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["address"], "additionalProperties": false, "properties": { "address": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/fund": { "post": {
                "summary": "Pay this party's escrow output from a wallet of the chain node (Core backend): the amount still owed, at the backend's fee rate; signed and broadcast only with broadcast=true, otherwise the unsigned PSBT to confirm or sign elsewhere",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["wallet"], "additionalProperties": false, "properties": { "wallet": { "type": "string" }, "broadcast": { "type": "boolean" } } } } } },
                "responses": merge(json!({ "200": ok("WalletFunding: wallet, address, amount and fee in base units, psbt (base64), txid once broadcast", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/trades/{id}/paid": { "post": {
                "summary": "Buyer: the payment was sent",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/received": { "post": {
                "summary": "Seller: the payment arrived; signs the escrow's release for the buyer",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/cancel": { "post": {
                "summary": "Either party, before any coins are locked",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "reason": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/dispute": { "post": {
                "summary": "Either party, once coins are locked: the arbitrator decides",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["reason"], "properties": { "reason": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/rating": { "post": {
                "summary": "Rate the counterparty of an ended trade whose receipt both parties signed: 1 to 5 stars and a comment of at most 140 bytes; a new rating replaces the old, published with this node's receipts",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["stars"], "additionalProperties": false, "properties": { "stars": { "type": "integer", "minimum": 1, "maximum": 5 }, "comment": { "type": "string", "maxLength": 140 } } } } } },
                "responses": merge(json!({ "200": ok("The receipt's state", json!({ "$ref": "#/components/schemas/ReceiptState" })) }), &errors)
            }},
            "/api/v1/trades/{id}/receipt": { "get": {
                "summary": "Where an ended trade's receipt stands, in words (null: none yet)",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The receipt's state", json!({ "$ref": "#/components/schemas/ReceiptState" })) }), &errors)
            }},
            "/api/v1/reputation/{peer}": { "get": {
                "summary": "A peer's reputation from its trade receipts, as this node verifies them: every receipt naming the peer found in the DHT, both signatures checked, escrow transactions looked up on this node's chain; refused receipts listed with the reason",
                "parameters": [path_param("peer", "the PeerId (12D3KooW…)")],
                "responses": merge(json!({ "200": ok("The reputation", json!({ "$ref": "#/components/schemas/Reputation" })) }), &errors)
            }},
            "/api/v1/disputes": { "get": {
                "summary": "As an arbitrator: the disputes sent to this node, newest first",
                "responses": merge(json!({ "200": ok("Disputes", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Dispute" } })) }), &errors)
            }},
            "/api/v1/disputes/{id}": { "get": {
                "summary": "As an arbitrator: one dispute, with both parties' reasons and transcripts",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The dispute", json!({ "$ref": "#/components/schemas/Dispute" })) }), &errors)
            }},
            "/api/v1/disputes/{id}/resolve": { "post": {
                "summary": "As an arbitrator: pay the escrow to the buyer, the seller, or split between them (a PSBT signed by this node, sent to both parties; a party who gets anything co-signs and broadcasts). A new decision is accepted after a party refused the last one and none took it",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["to"], "additionalProperties": false, "properties": { "to": { "type": "string", "enum": ["buyer", "seller", "split"] }, "buyer_gets": { "type": "string", "description": "with split: the buyer's share in the traded asset, e.g. \"0.6\"; the seller gets the rest, the fee comes out of the larger share" }, "reason": { "type": "string", "description": "shown to both parties" } } } } } },
                "responses": merge(json!({ "200": ok("The dispute", json!({ "$ref": "#/components/schemas/Dispute" })) }), &errors)
            }},
            "/api/v1/events": { "get": {
                "summary": "WebSocket: market and trade events as JSON text frames ({kind: offer_added, offer} | {kind: offer_withdrawn, id} | {kind: price_updated, …} | {kind: take_requested, trade} | {kind: trade_updated, trade} | {kind: recovered, trade} | {kind: message, message} | {kind: delivered, trade_id, up_to} | {kind: read, trade_id, up_to} | {kind: dispute_opened, trade_id} | {kind: dispute_resolved, trade_id} | {kind: lagged, missed})",
                "responses": merge(json!({ "101": { "description": "Switching to the WebSocket protocol" } }), &errors)
            }},
            "/api/v1/openapi.json": { "get": {
                "summary": "This description",
                "responses": merge(json!({ "200": ok("OpenAPI 3.1 document", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/app-status": { "get": {
                "summary": "The node's identity state (AppStatus in the TypeScript bindings)",
                "responses": merge(json!({ "200": ok("AppStatus", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/my-offers": { "get": {
                "summary": "This node's own offers, live, expired and withdrawn, newest first",
                "responses": merge(json!({ "200": ok("MyOffer list", json!({ "type": "array", "items": { "type": "object", "properties": { "offer": { "$ref": "#/components/schemas/Offer" }, "state": { "type": "object" } } } })) }), &errors)
            }},
            "/api/v1/markets/{base}/{quote}/price": { "get": {
                "summary": "The market price from the price feed, or null when none is known",
                "parameters": [path_param("base", "base asset, e.g. BTC"), path_param("quote", "quote currency, e.g. EUR")],
                "responses": merge(json!({ "200": ok("MarketPrice or null", json!({ "type": ["object", "null"] })) }), &errors)
            }},
            "/api/v1/network": { "get": {
                "summary": "The network as the UI shows it (NetworkStatus in the TypeScript bindings): peers, listen addresses, DHT state, and reachability (reach: public | relayed | private | unknown, AutoNAT's verdict, confirmed external addresses, relay reservations)",
                "responses": merge(json!({ "200": ok("NetworkStatus", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/chain": { "get": {
                "summary": "The chain backend (ChainStatus in the TypeScript bindings): configured or not, chain and network, connected with its tip height, or the reason it cannot be reached",
                "responses": merge(json!({ "200": ok("ChainStatus", json!({ "type": "object", "properties": {
                    "configured": { "type": "boolean" },
                    "chain": { "type": "string" },
                    "network": { "type": "string" },
                    "rpc_url": { "type": ["string", "null"] },
                    "connected": { "type": "boolean" },
                    "tip_height": { "type": ["integer", "null"] },
                    "confirmations": { "type": "integer" },
                    "error": { "type": ["string", "null"] }
                } })) }), &errors)
            }}
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "Error": { "description": "An error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["kind", "message"], "properties": {
                    "kind": { "type": "string", "description": "unauthorized, invalid_input, offline, internal, storage, io, …" },
                    "message": { "type": "string" }
                }},
                "Status": { "type": "object", "properties": {
                    "peer_id": { "type": "string" },
                    "listen_addrs": { "type": "array", "items": { "type": "string" } },
                    "connected_peers": { "type": "integer" },
                    "routing_table_size": { "type": "integer" },
                    "stored_records": { "type": "integer" }
                }},
                "OfferRequest": { "type": "object", "required": ["side", "base", "quote", "min", "max", "methods"], "additionalProperties": false, "properties": {
                    "side": { "type": "string", "enum": ["buy", "sell"] },
                    "base": { "type": "string", "examples": ["BTC"] },
                    "quote": { "type": "string", "examples": ["EUR"] },
                    "price": { "type": "string", "description": "fixed price per whole base coin; or give premium" },
                    "premium": { "type": "string", "description": "percent over the market price, e.g. 1.5" },
                    "min": { "type": "string", "examples": ["0.01"] },
                    "max": { "type": "string", "examples": ["0.1"] },
                    "methods": { "type": "array", "items": { "type": "string" } },
                    "escrow": { "type": "string", "enum": ["none", "multisig"] },
                    "arbitrators": { "type": "array", "items": { "type": "string" } },
                    "deposit": { "type": "string", "description": "percent, default 15" },
                    "ttl": { "type": "string", "description": "30m, 24h, 7d; default 24h" },
                    "terms": { "type": "string" }
                }},
                "Offer": { "type": "object", "description": "A signed offer (see souk-core's generated TypeScript bindings)" },
                "Trade": { "type": "object", "description": "TradeInfo: id, role, counterparty, state, offer, terms, reject_reason, waiting_for, unread (see the generated TypeScript bindings)" },
                "ReceiptState": { "type": "object", "properties": { "receipt": { "type": ["string", "null"] } } },
                "Reputation": { "type": "object", "description": "peer, settled (receipts that hold), with_escrow (of them, escrows verified on this node's chain), counterparties, disputes_opened, disputes_lost, rating (average 1-5 or null), ratings, score, first_seen, last_seen (unix ms), holders (sets read), receipts (id, counterparty, role, party, market, amount (bucket in coins), ended_at, outcome, chain {kind: no_escrow | verified | failed | not_checked, reason}, weight, rating_received, rating_given), refused (holder, reason)" },
                "Dispute": { "type": "object", "description": "DisputeInfo: trade_id, chain, network, offer, buyer, seller, their addresses, escrow_address, amount, buyer_deposit, seller_deposit, opened_by (buyer | seller | null: a deadline), cases (each party's side, reason and transcript), opened_at, resolved_to (buyer | seller | split), resolved_at, decision (round, buyer_share, seller_share, reason, buyer_answer, seller_answer, can_decide_again), on_chain (buyer_output, seller_output: what the escrow holds now)" },
                "ChatMessage": { "type": "object", "description": "id, trade_id, outgoing, seq, sender, body (plain text), sent_at, delivered_at, read_at" },
                "BookEntry": { "type": "object", "properties": {
                    "offer": { "$ref": "#/components/schemas/Offer" },
                    "mine": { "type": "boolean" },
                    "maker_last_seen": { "type": "integer", "description": "unix ms" },
                    "effective_price": { "type": ["string", "null"] },
                    "completed_with_maker": { "type": "integer", "description": "trades this node completed with the maker (its own history, not a reputation)" }
                }}
            }
        }
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for extra in [&settings_paths, &backup_paths] {
            if let Some(extra) = extra.as_object() {
                paths.extend(extra.clone());
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::routes;

    #[test]
    fn openapi_describes_every_route_and_method() {
        let doc = openapi_document();
        for (path, methods) in routes() {
            for method in methods {
                assert!(
                    doc["paths"][path][method].is_object(),
                    "{method} {path} is missing from openapi.json"
                );
            }
        }
        assert_eq!(
            doc["paths"].as_object().unwrap().len(),
            routes().len(),
            "openapi.json names a route the router lacks"
        );
    }
}
