//! Partitions: two `souk node` processes in network namespaces of their own, joined only through a
//! third namespace that routes between them (`ip netns` + veth; needs root, as CI has). The link is cut
//! in the middle of a chat and of a trade step, while envelopes and their acknowledgements are in
//! flight, and healed: every message and every step arrives exactly once, in order, on both sides.
//!
//! The kernel here has no `tc netem`; a cut is the router's side of a veth pair set down (packets are
//! dropped, TCP connections stall until they time out or the link returns).

#![allow(clippy::unwrap_used)]

use std::{path::Path, process::Command, time::Duration};

mod netns;

use netns::{Host, incoming, ip, link, namespaces, sysctl};

const MAKER_IP: &str = "10.91.1.2";
const TAKER_IP: &str = "10.91.2.2";
/// Long enough for a stalled connection to time out and the outbox to retry after the heal.
const DEADLINE: Duration = Duration::from_secs(150);

/// Two hosts, `a` (10.91.1.2) and `b` (10.91.2.2), each in its own namespace, routed through `r`.
struct Topology {
    a: String,
    b: String,
    r: String,
    /// The router's end of a's link: set down to cut a off.
    r_to_a: String,
}

impl Topology {
    fn new() -> Self {
        // Names unique to this process: tests of other runs may build theirs at the same time.
        let tag = format!("{:x}", std::process::id());
        let t = Self {
            a: format!("souk{tag}a"),
            b: format!("souk{tag}b"),
            r: format!("souk{tag}r"),
            r_to_a: format!("r{tag}a"),
        };
        namespaces(&[&t.a, &t.b, &t.r]);
        for (host, net, host_if, router_if) in [
            (&t.a, "1", format!("h{tag}a"), t.r_to_a.clone()),
            (&t.b, "2", format!("h{tag}b"), format!("r{tag}b")),
        ] {
            let host_addr = format!("10.91.{net}.2/24");
            let router_addr = format!("10.91.{net}.1/24");
            link(host, &host_if, &host_addr, &t.r, &router_if, &router_addr);
            let gateway = format!("10.91.{net}.1");
            ip(Some(host), &["route", "add", "default", "via", &gateway]);
        }
        sysctl(&t.r, "net.ipv4.ip_forward=1");
        t
    }

    fn cut(&self) {
        ip(Some(&self.r), &["link", "set", &self.r_to_a, "down"]);
    }

    fn heal(&self) {
        ip(Some(&self.r), &["link", "set", &self.r_to_a, "up"]);
    }

    /// Drops, at the router, every packet towards `host_ip` and nothing the other way: what that host
    /// sends arrives, what is sent to it (an answer, an acknowledgement) is lost.
    fn drop_towards(&self, host_ip: &str) {
        ip(
            Some(&self.r),
            &["route", "add", "blackhole", &format!("{host_ip}/32")],
        );
    }

    fn stop_dropping(&self, host_ip: &str) {
        ip(
            Some(&self.r),
            &["route", "del", "blackhole", &format!("{host_ip}/32")],
        );
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends (and so their peers).
        for ns in [&self.a, &self.b, &self.r] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A node of this test: the namespace's host and the address the other dials.
struct Node {
    host: Host,
    addr: String,
}

impl std::ops::Deref for Node {
    type Target = Host;

    fn deref(&self) -> &Host {
        &self.host
    }
}

impl Node {
    fn start(ns: &str, dir: &Path, ip_addr: &str, bootstrap: Option<&str>) -> Self {
        let listen = format!("/ip4/{ip_addr}/tcp/0");
        let mut args = vec!["--listen", &listen];
        if let Some(b) = bootstrap {
            args.extend(["--bootstrap", b]);
        }
        let host = Host::start(ns, dir, &args, DEADLINE);
        let addr = host.tcp_addr(ip_addr);
        Self { host, addr }
    }

    fn steps(&self, trade: &str) -> Vec<(String, bool)> {
        self.must(&["trade", "show", trade])["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["kind"].as_str().unwrap().to_owned(),
                    s["mine"].as_bool().unwrap(),
                )
            })
            .collect()
    }
}

#[test]
fn a_cut_link_in_the_middle_of_a_chat_and_a_trade_step_loses_and_doubles_nothing() {
    let net = Topology::new();
    let tmp = tempfile::tempdir().unwrap();
    let maker = Node::start(&net.a, &tmp.path().join("maker"), "10.91.1.2", None);
    let taker = Node::start(
        &net.b,
        &tmp.path().join("taker"),
        "10.91.2.2",
        Some(&maker.addr),
    );

    // A trade without escrow: the maker sells, the taker pays outside Souk.
    let offer = maker.must(&[
        "offer", "post", "--side", "sell", "--base", "BTC", "--quote", "EUR", "--price", "60000",
        "--min", "0.01", "--max", "0.1", "--method", "SEPA",
    ]);
    let offer_id = offer["id"].as_str().unwrap().to_owned();
    taker.poll("the offer in the taker's book", || {
        let list = taker.cli(&["offer", "list", "--market", "BTC/EUR"]).ok()?;
        list.as_array()?
            .iter()
            .any(|e| e["offer"]["id"] == offer_id.as_str())
            .then_some(())
    });
    let trade = taker.must(&[
        "trade",
        "take",
        &offer_id,
        "--amount",
        "0.05",
        "--method",
        "SEPA",
        "--payout",
        "IBAN DE00 1234",
    ]);
    let id = trade["id"].as_str().unwrap().to_owned();
    maker.poll("the take", || {
        (maker.cli(&["trade", "show", &id]).ok()?["state"] == "Requested").then_some(())
    });
    maker.must(&["trade", "accept", &id]);
    taker.poll("the accept", || {
        (taker.cli(&["trade", "show", &id]).ok()?["state"] == "Accepted").then_some(())
    });

    let mut from_taker: Vec<String> = Vec::new();
    let mut from_maker: Vec<String> = Vec::new();
    let say = |host: &Host, log: &mut Vec<String>, text: String| {
        host.must(&["chat", "send", &id, &text]);
        log.push(text);
    };
    for i in 1..=3 {
        say(&taker, &mut from_taker, format!("taker {i}"));
    }
    maker.poll("the first messages", || {
        (incoming(&maker.chat(&id)) == from_taker).then_some(())
    });

    // 1. The link cut both ways; both go on writing into the cut.
    net.cut();
    let before_cut = from_taker.clone();
    for i in 4..=6 {
        say(&taker, &mut from_taker, format!("taker {i}"));
    }
    say(&maker, &mut from_maker, "maker 5".into());
    // Nothing written after the cut can have arrived: the cut is real.
    assert_eq!(incoming(&maker.chat(&id)), before_cut);
    assert!(incoming(&taker.chat(&id)).is_empty());
    net.heal();
    maker.poll("the messages written into the cut", || {
        (incoming(&maker.chat(&id)).len() >= from_taker.len()).then_some(())
    });
    taker.poll("the maker's message", || {
        (incoming(&taker.chat(&id)).len() >= from_maker.len()).then_some(())
    });
    assert_eq!(incoming(&maker.chat(&id)), from_taker);
    assert_eq!(incoming(&taker.chat(&id)), from_maker);

    // 2. Only one way cut (at the router, every packet towards the taker is dropped): the taker's
    // requests may leave, but no answer, acknowledgement or protocol negotiation comes back; both go on
    // writing.
    net.drop_towards(TAKER_IP);
    for i in 7..=9 {
        say(&taker, &mut from_taker, format!("taker {i}"));
    }
    say(&maker, &mut from_maker, "maker 8".into());
    assert_eq!(
        incoming(&taker.chat(&id)),
        from_maker[..from_maker.len() - 1],
        "nothing reaches the taker while the way to it is cut"
    );
    net.stop_dropping(TAKER_IP);
    let unacknowledged = |host: &Host| -> usize {
        host.must(&["chat", "log", &id])
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["outgoing"] == true && m["delivered_at"].is_null())
            .count()
    };
    taker.poll("the acknowledgements, after the heal", || {
        (unacknowledged(&taker) == 0).then_some(())
    });
    taker.poll("the maker's message", || {
        (incoming(&taker.chat(&id)).len() >= from_maker.len()).then_some(())
    });
    assert_eq!(
        incoming(&maker.chat(&id)),
        from_taker,
        "each message once, in order"
    );
    assert_eq!(
        incoming(&taker.chat(&id)),
        from_maker,
        "each message once, in order"
    );

    // 3. A trade step into a cut: the buyer says it paid while the seller cannot be reached.
    net.cut();
    taker.must(&["trade", "paid", &id]);
    say(&taker, &mut from_taker, "taker after paid".into());
    net.heal();
    maker.poll("the payment step", || {
        (maker.cli(&["trade", "show", &id]).ok()?["state"] == "PaymentSent").then_some(())
    });
    maker.poll("the message after it", || {
        (incoming(&maker.chat(&id)).len() >= from_taker.len()).then_some(())
    });
    assert_eq!(incoming(&maker.chat(&id)), from_taker);

    // 4. A step while the way to its sender is cut: the seller confirms; whatever of it gets through,
    // nothing comes back until the heal, and the seller's node sends it again.
    net.drop_towards(MAKER_IP);
    maker.must(&["trade", "received", &id]);
    net.stop_dropping(MAKER_IP);
    taker.poll("the seller's confirmation", || {
        (taker.cli(&["trade", "show", &id]).ok()?["state"] == "Completed").then_some(())
    });
    // Envelopes go out in sequence: once a later message of the seller arrives, the step was sent
    // again and acknowledged.
    say(&maker, &mut from_maker, "maker after received".into());
    taker.poll("the seller's message after the step", || {
        (incoming(&taker.chat(&id)).len() >= from_maker.len()).then_some(())
    });
    let (maker_steps, taker_steps) = (maker.steps(&id), taker.steps(&id));
    // Each side's signed steps, as the other holds them: same steps, same order, each once.
    let signed_by = |steps: &[(String, bool)], mine: bool| -> Vec<String> {
        steps
            .iter()
            .filter(|(_, m)| *m == mine)
            .map(|(k, _)| k.clone())
            .collect()
    };
    assert_eq!(
        signed_by(&maker_steps, true),
        signed_by(&taker_steps, false)
    );
    assert_eq!(
        signed_by(&taker_steps, true),
        signed_by(&maker_steps, false)
    );
    assert_eq!(
        signed_by(&taker_steps, true),
        ["take_request", "payment_sent"],
        "{taker_steps:?}"
    );
    assert_eq!(
        signed_by(&maker_steps, true),
        ["accept", "payment_received"],
        "{maker_steps:?}"
    );
    // And the chat holds each message once, in order.
    assert_eq!(incoming(&maker.chat(&id)), from_taker);
    assert_eq!(incoming(&taker.chat(&id)), from_maker);
}
