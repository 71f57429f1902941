//! Black-box tests of `souk node` and the commands that talk to it: real `souk` processes on loopback,
//! a temp dir each, port 0 everywhere. Where a test must wait it polls with a deadline.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::{
    fs::File,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

const PASS: &str = "correct horse battery";
const START_DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(25);

fn souk(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
    cmd.arg("--data-dir")
        .arg(dir)
        .env_remove("SOUK_PASSPHRASE")
        .env_remove("SOUK_DATA_DIR")
        .env_remove("SOUK_LOG_LEVEL")
        .env_remove("SOUK_LOG_FILE")
        // Tests never leave loopback: no market price feed.
        .env("SOUK_PRICE_URL", "")
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("souk runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

fn init(dir: &Path) {
    let out = run(souk(dir)
        .args(["--json", "init"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 0, "init failed: {}", stderr(&out));
}

/// A `souk node` child process, killed when dropped so a failed test leaves nothing running.
struct NodeProcess {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    url: String,
    token: String,
    peer_id: String,
    addrs: Vec<String>,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Inits `dir`, starts a node on loopback with `extra` flags and waits until its API answers.
    fn start(dir: &Path, extra: &[&str]) -> Self {
        init(dir);
        Self::run(dir, extra)
    }

    /// Starts a node on an initialised `dir` (again, after a stop) and waits until its API answers.
    fn run(dir: &Path, extra: &[&str]) -> Self {
        let log = dir.with_extension("stderr.log");
        let child = souk(dir)
            .args([
                "--json",
                "node",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--no-mdns",
            ])
            .args(extra)
            .env("SOUK_PASSPHRASE", PASS)
            .stdout(File::create(dir.with_extension("stdout.log")).unwrap())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("souk node starts");
        let mut node = Self {
            child,
            dir: dir.to_path_buf(),
            log,
            url: String::new(),
            token: String::new(),
            peer_id: String::new(),
            addrs: Vec::new(),
        };
        let api: Value = node.wait_for("api.json", || {
            let text = std::fs::read_to_string(dir.join("api.json")).ok()?;
            serde_json::from_str(&text).ok()
        });
        node.url = api["url"].as_str().unwrap().to_owned();
        node.token = api["token"].as_str().unwrap().to_owned();
        assert_eq!(api["pid"], node.child.id());
        let status = node.cli_json(&["status"]);
        node.peer_id = status["peer_id"].as_str().unwrap().to_owned();
        node.addrs = status["listen_addrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        node
    }

    /// Waits for the node to exit by itself.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `probe` until it gives a value, failing with the node's log after [`START_DEADLINE`] or
    /// when the node exits.
    fn wait_for<T>(&mut self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("souk node exited ({status}) before {what}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {START_DEADLINE:?}:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    fn cli(&self, args: &[&str]) -> Output {
        run(souk(&self.dir).args(args))
    }

    fn cli_json(&self, args: &[&str]) -> Value {
        let out = run(souk(&self.dir).arg("--json").args(args));
        assert_eq!(
            code(&out),
            0,
            "souk {args:?} failed: {}\nnode log:\n{}",
            stderr(&out),
            self.log()
        );
        json(&out)
    }

    fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    fn bootstrap_addr(&self) -> String {
        self.addrs[0].clone()
    }
}

/// One plain HTTP/1.1 exchange: the status code and the body.
fn http(
    host: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

fn offer_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["offer"]["id"].as_str().unwrap().to_owned())
        .collect()
}

const POST_SELL: &[&str] = &[
    "offer", "post", "--side", "sell", "--base", "BTC", "--quote", "EUR", "--price", "60000",
    "--min", "0.01", "--max", "0.1", "--method", "SEPA",
];

#[test]
fn api_needs_the_token_and_api_json_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("a"), &[]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(node.dir.join("api.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "api.json mode {mode:o}");
    }
    assert_eq!(node.token.len(), 64);

    for token in [None, Some("wrong"), Some(&node.token[..63])] {
        let (status, body) = http(node.host(), "GET", "/api/v1/status", token, None);
        assert_eq!(status, 401, "{token:?}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["kind"], "unauthorized");
        assert!(body["message"].as_str().unwrap().contains("token"));
    }
    let (status, body) = http(
        node.host(),
        "GET",
        "/api/v1/status",
        Some(&node.token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["peer_id"], node.peer_id.as_str());
    assert!(body["routing_table_size"].is_u64());
    // The browser form of the token works too.
    let (status, _) = http(
        node.host(),
        "GET",
        &format!("/api/v1/peers?token={}", node.token),
        None,
        None,
    );
    assert_eq!(status, 200);
}

#[test]
fn openapi_json_lists_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("a"), &[]);
    let (status, body) = http(
        node.host(),
        "GET",
        "/api/v1/openapi.json",
        Some(&node.token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = [
        ("get", "/api/v1/status"),
        ("get", "/api/v1/peers"),
        ("get", "/api/v1/offers"),
        ("get", "/api/v1/book"),
        ("post", "/api/v1/offers"),
        ("delete", "/api/v1/offers/{id}"),
        ("post", "/api/v1/markets/{base}/{quote}/refresh"),
        ("get", "/api/v1/trades"),
        ("post", "/api/v1/trades"),
        ("get", "/api/v1/trades/{id}"),
        ("post", "/api/v1/trades/{id}/accept"),
        ("post", "/api/v1/trades/{id}/reject"),
        ("post", "/api/v1/trades/{id}/counter"),
        ("get", "/api/v1/trades/{id}/messages"),
        ("post", "/api/v1/trades/{id}/messages"),
        ("post", "/api/v1/trades/{id}/read"),
        ("post", "/api/v1/trades/{id}/address"),
        ("post", "/api/v1/trades/{id}/fund"),
        ("post", "/api/v1/trades/{id}/paid"),
        ("post", "/api/v1/trades/{id}/received"),
        ("post", "/api/v1/trades/{id}/cancel"),
        ("post", "/api/v1/trades/{id}/dispute"),
        ("get", "/api/v1/disputes"),
        ("get", "/api/v1/disputes/{id}"),
        ("post", "/api/v1/disputes/{id}/resolve"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/app-status"),
        ("get", "/api/v1/my-offers"),
        ("get", "/api/v1/markets/{base}/{quote}/price"),
        ("get", "/api/v1/network"),
        ("get", "/api/v1/chain"),
        ("get", "/api/v1/preferences"),
        ("put", "/api/v1/preferences"),
        ("get", "/api/v1/startup"),
        ("post", "/api/v1/startup/retry"),
        ("get", "/api/v1/settings/connection"),
        ("put", "/api/v1/settings/connection"),
        ("post", "/api/v1/settings/connection/test"),
        ("post", "/api/v1/backup/export"),
        ("get", "/api/v1/settings/backup"),
        ("put", "/api/v1/settings/backup"),
        ("post", "/api/v1/trades/{id}/rating"),
        ("get", "/api/v1/trades/{id}/receipt"),
        ("get", "/api/v1/reputation/{peer}"),
    ];
    let paths: std::collections::HashSet<&str> = routes.iter().map(|(_, p)| *p).collect();
    for (method, path) in routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not described"
        );
        // ...and each one is served: without a token it is refused, not unknown.
        let concrete = path
            .replace("{id}", "01a20a47-4623-73d0-bdf6-ddb5f50254d5")
            .replace("{base}", "BTC")
            .replace("{quote}", "EUR")
            .replace(
                "{peer}",
                "12D3KooWAEN2jYVtwCDc6AWQ7x4KdeaXE57XtJdN411KjaNYaHkn",
            );
        let (status, _) = http(node.host(), &method.to_uppercase(), &concrete, None, None);
        assert_eq!(status, 401, "{method} {path}");
    }
    assert_eq!(doc["paths"].as_object().unwrap().len(), paths.len());
}

/// The OpenAPI document a node serves.
fn openapi_doc(node: &NodeProcess) -> Value {
    let (status, doc) = api_json(node, "GET", "/api/v1/openapi.json", None);
    assert_eq!(status, 200, "{doc}");
    doc
}

/// `schema` (a part of `doc`) with the document's components beside it, so its `$ref`s resolve.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap()
}

fn mismatches(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Checks an answer against what the OpenAPI document says the route answers with that status.
fn answers_as_documented(doc: &Value, method: &str, route: &str, status: u16, body: &Value) {
    let mut response = &doc["paths"][route][method]["responses"][status.to_string()];
    if let Some(r) = response["$ref"].as_str() {
        response = doc.pointer(r.trim_start_matches('#')).unwrap();
    }
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {route} answered {status}, which the document does not describe"
    );
    let wrong = mismatches(&validator(doc, schema), body);
    assert!(
        wrong.is_empty(),
        "{method} {route} {status}: the answer is not what the document says: {wrong:#?}\n{body:#}"
    );
}

/// Checks a request body against the route's documented request body.
fn asks_as_documented(doc: &Value, method: &str, route: &str, body: &Value) {
    let schema =
        &doc["paths"][route][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {route} documents no body");
    let wrong = mismatches(&validator(doc, schema), body);
    assert!(wrong.is_empty(), "{method} {route}: {wrong:#?}\n{body:#}");
}

/// The generated document describes what the API really answers: each route's answer, from a real
/// node, checked against the route's schema (the same for the bodies sent, and for an error).
#[test]
fn the_api_answers_what_its_openapi_document_says() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("a"), &["--market", "BTC/EUR"]);
    let doc = openapi_doc(&node);
    let call = |method: &str, route: &str, path: &str, body: Option<Value>| {
        if let Some(body) = &body {
            asks_as_documented(&doc, method, route, body);
        }
        let text = body.map(|b| b.to_string());
        let (status, answer) = api_json(&node, &method.to_uppercase(), path, text.as_deref());
        answers_as_documented(&doc, method, route, status, &answer);
        (status, answer)
    };
    let offer = serde_json::json!({
        "side": "sell", "base": "BTC", "quote": "EUR", "price": {"fixed": "60000"},
        "min_amount": 1_000_000, "max_amount": 10_000_000, "payment_methods": ["SEPA"],
        "escrow": {"kind": "none"}, "deposit_bps": 1500, "ttl_ms": 86_400_000,
        "terms": "SEPA instant only"
    });
    let (status, posted) = call(
        "post",
        "/api/v1/offers",
        "/api/v1/offers",
        Some(offer.clone()),
    );
    assert_eq!(status, 201, "{posted}");
    let id = posted["id"].as_str().unwrap().to_owned();
    let premium = serde_json::json!({
        "side": "buy", "base": "BTC", "quote": "EUR", "price": {"market_relative": {"premium_bps": -150}},
        "min_amount": 2_000_000, "max_amount": 5_000_000, "payment_methods": ["REVOLUT"],
        "escrow": {"kind": "none"}, "deposit_bps": 2000, "ttl_ms": 7_200_000, "terms": ""
    });
    let (status, _) = call("post", "/api/v1/offers", "/api/v1/offers", Some(premium));
    assert_eq!(status, 201);
    let mut bad = offer.clone();
    bad["min_amount"] = 20_000_000.into();
    let (status, refused) = call("post", "/api/v1/offers", "/api/v1/offers", Some(bad));
    assert_eq!(
        (status, refused["kind"].as_str()),
        (400, Some("invalid_input"))
    );

    for route in [
        "/api/v1/status",
        "/api/v1/peers",
        "/api/v1/offers",
        "/api/v1/my-offers",
        "/api/v1/trades",
        "/api/v1/disputes",
        "/api/v1/app-status",
        "/api/v1/network",
        "/api/v1/chain",
        "/api/v1/startup",
        "/api/v1/settings/connection",
        "/api/v1/settings/backup",
    ] {
        let (status, answer) = call("get", route, route, None);
        assert_eq!(status, 200, "{route}: {answer}");
    }
    let (_, book) = call(
        "get",
        "/api/v1/offers",
        "/api/v1/offers?base=BTC&quote=EUR&amount=5000000",
        None,
    );
    assert_eq!(book.as_array().unwrap().len(), 2, "{book}");
    // The book a page at a time: one offer per page, the total, and the cursor to the next.
    let (status, first) = call(
        "get",
        "/api/v1/book",
        "/api/v1/book?base=BTC&quote=EUR&limit=1",
        None,
    );
    assert_eq!((status, first["total"].as_u64()), (200, Some(2)), "{first}");
    let after = first["next"].as_str().unwrap();
    let (_, second) = call(
        "get",
        "/api/v1/book",
        &format!("/api/v1/book?base=BTC&quote=EUR&limit=1&after={after}"),
        None,
    );
    let pages: Vec<&Value> = [&first, &second]
        .iter()
        .map(|p| &p["entries"][0]["offer"]["id"])
        .collect();
    assert_eq!(pages, [&book[0]["offer"]["id"], &book[1]["offer"]["id"]]);
    assert!(second["next"].is_null(), "{second}");
    let (status, refused) = call(
        "get",
        "/api/v1/book",
        "/api/v1/book?base=BTC&quote=EUR&limit=0",
        None,
    );
    assert_eq!(
        (status, refused["kind"].as_str()),
        (400, Some("invalid_input")),
        "{refused}"
    );
    let (status, none) = call(
        "get",
        "/api/v1/offers",
        "/api/v1/offers?amount=5000000",
        None,
    );
    assert_eq!(
        (status, none["kind"].as_str()),
        (400, Some("invalid_input"))
    );
    let (status, price) = call(
        "get",
        "/api/v1/markets/{base}/{quote}/price",
        "/api/v1/markets/BTC/EUR/price",
        None,
    );
    assert_eq!((status, price), (200, Value::Null));
    let (status, preferences) = call("get", "/api/v1/preferences", "/api/v1/preferences", None);
    assert_eq!(status, 200);
    let (status, _) = call(
        "put",
        "/api/v1/preferences",
        "/api/v1/preferences",
        Some(preferences),
    );
    assert_eq!(status, 200);
    let (status, unknown) = call(
        "get",
        "/api/v1/trades/{id}",
        "/api/v1/trades/01a20a47-4623-73d0-bdf6-ddb5f50254d5",
        None,
    );
    assert!(status >= 400, "{unknown}");
    let (status, gone) = call(
        "delete",
        "/api/v1/offers/{id}",
        &format!("/api/v1/offers/{id}"),
        None,
    );
    assert_eq!((status, gone["withdrawn"].as_bool()), (200, Some(true)));
}

#[test]
fn bad_offers_get_400_with_a_reason_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("a"), &[]);
    // The API takes the offer typed, as the desktop app's post_offer does; the text a person types is
    // the CLI's to read (below).
    let typed = |change: &dyn Fn(&mut Value)| {
        let mut offer = serde_json::json!({
            "side": "sell", "base": "BTC", "quote": "EUR", "price": {"fixed": "60000"},
            "min_amount": 1_000_000, "max_amount": 10_000_000, "payment_methods": ["SEPA"],
            "escrow": {"kind": "none"}, "deposit_bps": 1500, "ttl_ms": 86_400_000, "terms": ""
        });
        change(&mut offer);
        offer.to_string()
    };
    let cases = [
        (
            typed(&|o| o["min_amount"] = 20_000_000.into()),
            "the minimum amount 20000000 is above the maximum 10000000",
        ),
        (
            typed(&|o| o["base"] = "DOGE".into()),
            "base: unknown variant `DOGE`",
        ),
        (
            typed(&|o| {
                o.as_object_mut().unwrap().remove("price");
            }),
            "missing field `price`",
        ),
        (r#"{"side":"sell""#.to_owned(), "JSON"),
    ];
    for (body, reason) in cases {
        let (status, answer) = http(
            node.host(),
            "POST",
            "/api/v1/offers",
            Some(&node.token),
            Some(&body),
        );
        assert_eq!(status, 400, "{body}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["kind"], "invalid_input");
        assert!(
            answer["message"].as_str().unwrap().contains(reason),
            "{reason:?} not in {answer}"
        );
    }
    let huge = format!(r#"{{"terms":"{}"}}"#, "x".repeat(70 * 1024));
    let (status, _) = http(
        node.host(),
        "POST",
        "/api/v1/offers",
        Some(&node.token),
        Some(&huge),
    );
    assert_eq!(status, 413);

    let mut args = POST_SELL.to_vec();
    let min = args.len() - 5;
    args[min] = "0.2";
    let out = node.cli(&args);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("min 0.2 is above max 0.1"),
        "{}",
        stderr(&out)
    );
    let out = node.cli(&["--json", "offer", "list", "--amount", "0.05"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["error"]["kind"], "invalid_input");
    let out = node.cli(&["offer", "withdraw", "01a20a47-4623-73d0-bdf6-ddb5f50254d5"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

/// Reads one WebSocket frame (server frames are unmasked) and returns its text.
fn read_ws_text(stream: &mut TcpStream) -> String {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[0] & 0x0f, 1, "not a text frame: {head:?}");
    let len = match head[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n).unwrap();
            u64::from(u16::from_be_bytes(n))
        }
        127 => {
            let mut n = [0u8; 8];
            stream.read_exact(&mut n).unwrap();
            u64::from_be_bytes(n)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; usize::try_from(len).unwrap()];
    stream.read_exact(&mut payload).unwrap();
    String::from_utf8(payload).unwrap()
}

/// Opens the node's event WebSocket the way a browser does: the token in the query string.
fn open_events(node: &NodeProcess) -> TcpStream {
    let mut ws = TcpStream::connect(node.host()).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        ws,
        "GET /api/v1/events?token={} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        node.token,
        node.host()
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        ws.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws
}

#[test]
fn post_list_withdraw_with_events_then_sigterm_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = NodeProcess::start(&tmp.path().join("a"), &["--market", "BTC/EUR"]);

    // A browser-style WebSocket: the token in the query string.
    let mut ws = open_events(&node);

    let offer = node.cli_json(POST_SELL);
    let id = offer["id"].as_str().unwrap().to_owned();
    assert_eq!(offer["maker"], node.peer_id.as_str());
    assert_eq!(offer["min_amount"], 1_000_000);
    let event: Value = serde_json::from_str(&read_ws_text(&mut ws)).unwrap();
    assert_eq!(event["kind"], "offer_added");
    assert_eq!(event["offer"]["id"], id.as_str());

    let premium = node.cli_json(&[
        "offer",
        "post",
        "--side",
        "buy",
        "--base",
        "BTC",
        "--quote",
        "EUR",
        "--premium",
        "-1.5",
        "--min",
        "0.02",
        "--max",
        "0.05",
        "--method",
        "revolut",
        "--ttl",
        "2h",
        "--deposit",
        "20",
    ]);
    assert_eq!(premium["price"]["market_relative"]["premium_bps"], -150);
    assert_eq!(premium["deposit_bps"], 2000);
    assert_eq!(premium["payment_methods"][0], "REVOLUT");
    let event: Value = serde_json::from_str(&read_ws_text(&mut ws)).unwrap();
    assert_eq!(event["offer"]["id"], premium["id"]);

    let all = node.cli_json(&["offer", "list", "--market", "BTC/EUR"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let sells = node.cli_json(&["offer", "list", "--side", "sell", "--mine"]);
    assert_eq!(offer_ids(&sells), [id.as_str()]);
    let big = node.cli_json(&["offer", "list", "--market", "BTC/EUR", "--amount", "0.08"]);
    assert_eq!(offer_ids(&big), [id.as_str()]);
    let text = node.cli(&["offer", "list"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("0.01–0.1 BTC") && text.contains("60000 EUR"),
        "{text}"
    );
    assert!(
        text.contains("market -1.5%") && text.contains("0s ago"),
        "{text}"
    );

    let withdrawn = node.cli_json(&["offer", "withdraw", &id]);
    assert_eq!(withdrawn["withdrawn"], true);
    let event: Value = serde_json::from_str(&read_ws_text(&mut ws)).unwrap();
    assert_eq!(
        event,
        serde_json::json!({"kind": "offer_withdrawn", "id": id})
    );
    let sells = node.cli_json(&["offer", "list", "--side", "sell"]);
    assert!(offer_ids(&sells).is_empty());
    // My offers keeps the withdrawn one, with its state, newest first (what the UI lists).
    let (status, body) = http(
        node.host(),
        "GET",
        "/api/v1/my-offers",
        Some(&node.token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let mine: Value = serde_json::from_str(&body).unwrap();
    let states: Vec<(&str, &str)> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["offer"]["id"].as_str().unwrap(),
                m["state"]["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (premium["id"].as_str().unwrap(), "live"),
            (id.as_str(), "withdrawn")
        ]
    );
    let (status, body) = http(
        node.host(),
        "GET",
        "/api/v1/app-status",
        Some(&node.token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let app: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(app["identity"]["peer_id"], node.peer_id.as_str());
    let refreshed = node.cli_json(&["offer", "refresh", "--market", "BTC/EUR"]);
    assert_eq!(refreshed["market"], "BTC/EUR");

    let status = Command::new("kill")
        .args(["-TERM", &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The open WebSocket must not hold the shutdown up.
    let exit = node.wait_exit();
    assert!(exit.success(), "{exit}:\n{}", node.log());
    assert!(!node.dir.join("api.json").exists(), "api.json left behind");
    assert!(node.dir.join("logs").is_dir(), "no log files");
    read_ws_closed(&mut ws);
    let out = node.cli(&["peers"]);
    assert_eq!(code(&out), 1);
}

/// After the node stops, the WebSocket ends: the stream reaches its end (or is reset by the exiting
/// process) within the read timeout — a timeout means it never ended — and whatever came first is a
/// close frame.
fn read_ws_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the event stream did not end: {e} (read so far: {rest:?})"),
    }
    if let Some(first) = rest.first() {
        assert_eq!(first & 0x0f, 8, "expected a close frame, got {rest:?}");
    }
}

#[test]
fn commands_without_a_running_node_exit_1_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    init(&dir);
    let expected = format!(
        "no running node for {}: start one with `souk node`",
        dir.display()
    );
    let out = run(souk(&dir).args(["offer", "list"]));
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));

    // A stale api.json from a node that died: the port refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("api.json"),
        format!(r#"{{"url":"http://127.0.0.1:{port}","token":"00","pid":1}}"#),
    )
    .unwrap();
    for args in [&["offer", "list"][..], &["peers"], &["status"]] {
        let out = run(souk(&dir).args(args));
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    }
    let out = run(souk(&dir).args(["--json", "offer", "list"]));
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["error"]["message"], expected.as_str());
}

#[test]
fn tor_mode_refuses_a_clearnet_bootstrap_peer_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    init(&dir);
    let clear = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    let out = run(souk(&dir)
        .args(["node", "--tor", "--bootstrap", clear])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Tor mode reaches peers only at onion addresses"),
        "{}",
        stderr(&out)
    );
    // Nothing was started: no tor directory, no API file.
    assert!(!dir.join("tor").exists() && !dir.join("api.json").exists());
}

#[test]
fn a_non_loopback_api_address_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    init(&dir);
    let out = run(souk(&dir)
        .args(["node", "--no-mdns", "--api", "0.0.0.0:0"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("not a loopback address"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("api.json").exists());
    let out = run(souk(&dir)
        .args(["node", "--market", "BTC/DOGE"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("DOGE"), "{}", stderr(&out));
}

/// `[trade]` in souk.toml reaches `souk node` and is checked before anything runs; the flags override it.
/// The network and chain views the UI reads are served.
#[test]
fn trade_settings_come_from_souk_toml_and_flags_override_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    init(&dir);
    let start = |toml: &str| {
        std::fs::write(dir.join("souk.toml"), toml).unwrap();
        run(souk(&dir)
            .args(["node", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
            .env("SOUK_PASSPHRASE", PASS))
    };
    let out = start("[trade]\nmax_takes_per_offer = 0\n");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("max_takes_per_offer is 0"),
        "{}",
        stderr(&out)
    );
    let out = start("[trade]\narbitrater = true\n");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("arbitrater"), "{}", stderr(&out));
    // The trade windows: out of bounds in the file, the environment or a flag, each refused by name.
    let out = start("[trade]\nfunding_window_secs = 0\n");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("funding_window_secs is 0: it must be 1 to 2592000 seconds"),
        "{}",
        stderr(&out)
    );
    std::fs::write(dir.join("souk.toml"), "").unwrap();
    let out = run(souk(&dir)
        .args(["node", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
        .env("SOUK_PASSPHRASE", PASS)
        .env("SOUK_PAYMENT_WINDOW_SECS", "2592001"));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("payment_window_secs is 2592001"),
        "{}",
        stderr(&out)
    );
    let out = run(souk(&dir)
        .args(["node", "--no-mdns", "--release-window-secs", "0"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("--release-window-secs") && stderr(&out).contains("1..=2592000"),
        "{}",
        stderr(&out)
    );
    // An arbitrator by the file alone, without a chain backend, is refused with its reason.
    let out = start("[trade]\narbitrator = true\n");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("an arbitrator needs a chain backend"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("api.json").exists());

    // The file says 0 takes per offer and a funding window over 30 days; the flags' 2 and 60 s win and
    // the node runs.
    let other = tmp.path().join("b");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("souk.toml"),
        "[trade]\nmax_takes_per_offer = 0\nwatch_every_secs = 2\nfunding_window_secs = 99999999\n",
    )
    .unwrap();
    let node = NodeProcess::start(
        &other,
        &["--max-takes-per-offer", "2", "--funding-window-secs", "60"],
    );
    let get = |path: &str| {
        let (status, body) = http(node.host(), "GET", path, Some(&node.token), None);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let network = get("/api/v1/network");
    assert_eq!(network["peer_id"], node.peer_id.as_str());
    assert!(
        ["public", "relayed", "private", "unknown"].contains(&network["reach"].as_str().unwrap()),
        "{network}"
    );
    assert_eq!(network["relays"], serde_json::json!([]));
    assert_eq!(network["relay_server"], false);
    let chain = get("/api/v1/chain");
    assert_eq!(chain["configured"], false, "{chain}");
    assert_eq!(chain["connected"], false);
    assert!(chain["error"].is_null() && chain["tip_height"].is_null());
    assert_eq!(get("/api/v1/app-status")["identity"]["arbitrator"], false);
}

#[test]
fn a_second_node_on_the_same_data_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("a"), &[]);
    let out = run(souk(&node.dir)
        .args(["node", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("already running"), "{}", stderr(&out));
    // The running node still answers.
    node.cli_json(&["status"]);
}

/// The acceptance scenario: one bootstrap and three peers, separate processes on loopback. An offer
/// posted on one peer shows in another's `offer list` within 5 s, and so does its withdrawal.
#[test]
fn four_nodes_on_loopback_see_an_offer_within_5s() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let bootstrap = NodeProcess::start(&tmp.path().join("boot"), &[]);
    let addr = bootstrap.bootstrap_addr();
    let peers: Vec<NodeProcess> = ["p1", "p2", "p3"]
        .iter()
        .map(|name| NodeProcess::start(&tmp.path().join(name), &["--bootstrap", &addr]))
        .collect();
    eprintln!("4 nodes up in {:?}", started.elapsed());
    let (maker, taker) = (&peers[0], &peers[2]);

    let offer = maker.cli_json(POST_SELL);
    let id = offer["id"].as_str().unwrap().to_owned();
    let posted = Instant::now();
    let deadline = posted + Duration::from_secs(5);
    loop {
        let list = taker.cli_json(&["offer", "list", "--market", "BTC/EUR"]);
        if offer_ids(&list).contains(&id) {
            let entry = &list.as_array().unwrap()[0];
            assert_eq!(entry["mine"], false);
            assert_eq!(entry["offer"]["maker"], maker.peer_id.as_str());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "offer {id} not in p3's book 5 s after posting\nmaker log:\n{}\ntaker log:\n{}",
            maker.log(),
            taker.log()
        );
        std::thread::sleep(POLL);
    }
    eprintln!("offer seen by p3 {:?} after posting", posted.elapsed());

    let peers_of_taker = taker.cli_json(&["peers"]);
    assert!(!peers_of_taker.as_array().unwrap().is_empty());
    let status = taker.cli_json(&["status"]);
    assert!(
        status["routing_table_size"].as_u64().unwrap() >= 1,
        "{status}"
    );

    maker.cli_json(&["offer", "withdraw", &id]);
    let withdrawn = Instant::now();
    let deadline = withdrawn + Duration::from_secs(5);
    while offer_ids(&taker.cli_json(&["offer", "list", "--market", "BTC/EUR"])).contains(&id) {
        assert!(
            Instant::now() < deadline,
            "withdrawal not seen by p3 within 5 s"
        );
        std::thread::sleep(POLL);
    }
    eprintln!(
        "withdrawal seen by p3 {:?} after it was made",
        withdrawn.elapsed()
    );
    eprintln!("whole scenario {:?}", started.elapsed());
}

/// Polls `probe` until it gives a value or [`START_DEADLINE`] passes.
fn poll_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {START_DEADLINE:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// Reads event frames until one of `kind` arrives.
fn await_event(ws: &mut TcpStream, kind: &str) -> Value {
    loop {
        let event: Value = serde_json::from_str(&read_ws_text(ws)).unwrap();
        if event["kind"] == kind {
            return event;
        }
    }
}

#[test]
fn take_counter_accept_and_chat_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let maker = NodeProcess::start(&tmp.path().join("maker"), &["--market", "BTC/EUR"]);
    let addr = maker.bootstrap_addr();
    let taker = NodeProcess::start(
        &tmp.path().join("taker"),
        &["--market", "BTC/EUR", "--bootstrap", &addr],
    );
    let mut maker_events = open_events(&maker);
    let offer = maker.cli_json(POST_SELL);
    let offer_id = offer["id"].as_str().unwrap().to_owned();
    poll_until("the offer in the taker's book", || {
        let list = taker.cli_json(&["offer", "list", "--market", "BTC/EUR"]);
        offer_ids(&list).contains(&offer_id).then_some(())
    });

    // The book names the maker as every node does, beside its abbreviated PeerId.
    let maker_name = souk_core::peer_name::peer_name(&maker.peer_id);
    let book = taker.cli(&["offer", "list", "--market", "BTC/EUR"]);
    let book = String::from_utf8_lossy(&book.stdout).into_owned();
    assert!(book.contains(&maker_name), "{maker_name}: {book}");

    // A bad amount is refused by the taker's node with the offer's range, exit 1.
    let out = taker.cli(&[
        "trade", "take", &offer_id, "--amount", "5", "--method", "sepa",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("outside the offer's range"),
        "{}",
        stderr(&out)
    );

    let trade = taker.cli_json(&[
        "trade",
        "take",
        &offer_id,
        "--amount",
        "0.05",
        "--method",
        "sepa",
        "--payout",
        "IBAN DE00",
    ]);
    let id = trade["id"].as_str().unwrap().to_owned();
    assert_eq!(trade["state"], "Requested");
    assert_eq!(trade["role"], "taker");
    assert_eq!(trade["terms"]["amount"], 5_000_000);
    let taken = await_event(&mut maker_events, "take_requested");
    assert_eq!(taken["trade"]["id"], id.as_str());
    assert_eq!(taken["trade"]["terms"]["payout"], "IBAN DE00");

    // Only the party whose turn it is may answer.
    let out = taker.cli(&["trade", "accept", &id]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("not the taker's turn"),
        "{}",
        stderr(&out)
    );
    let out = maker.cli(&["trade", "show", "not-a-trade"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("is not a trade id"),
        "{}",
        stderr(&out)
    );

    let countered = maker.cli_json(&[
        "trade", "counter", &id, "--amount", "0.02", "--price", "61000",
    ]);
    assert_eq!(countered["state"], "Countered");
    poll_until("the counter", || {
        (taker.cli_json(&["trade", "show", &id])["state"] == "Countered").then_some(())
    });
    let accepted = taker.cli_json(&["trade", "accept", &id]);
    assert_eq!(accepted["terms"]["amount"], 2_000_000);
    poll_until("the accept", || {
        let list = maker.cli_json(&["trade", "list"]);
        (list[0]["state"] == "Accepted").then_some(())
    });
    let shown = taker.cli(&["trade", "show", &id]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.contains(&format!("{maker_name} ({})", maker.peer_id)),
        "{shown}"
    );
    let table = maker.cli(&["trade", "list"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains(&id) && table.contains("Accepted"), "{table}");

    // Chat: markup stays text, end to end; reading sends a receipt back.
    let text = "<script>alert(1)</script> & <b>bold</b>";
    let sent = taker.cli_json(&["chat", "send", &id, text]);
    assert_eq!(sent["body"], text);
    let message = await_event(&mut maker_events, "message");
    assert_eq!(message["message"]["body"], text);
    let log = maker.cli(&["chat", "log", &id]);
    let shown = String::from_utf8_lossy(&log.stdout).into_owned();
    assert!(shown.contains(text), "{shown}");
    poll_until("the read receipt", || {
        let log = taker.cli_json(&["chat", "log", &id]);
        let m = &log.as_array().unwrap()[0];
        (m["delivered_at"].is_i64() && m["read_at"].is_i64()).then_some(())
    });
    let out = taker.cli(&["chat", "send", &id, " "]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("cannot be empty"), "{}", stderr(&out));

    // Reputation: nothing settled yet; an open trade has no receipt to rate; a bad peer id says so.
    let shown = taker.cli(&["reputation", &maker.peer_id]);
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let text = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(text.contains("Settled trades:  0"), "{text}");
    assert!(text.contains(&maker.peer_id), "{text}");
    let rep = taker.cli_json(&["reputation", &maker.peer_id]);
    assert_eq!(rep["settled"], 0);
    assert_eq!(rep["peer"], maker.peer_id.as_str());
    // A trade, its chat and a reputation, as the OpenAPI document describes them.
    let doc = openapi_doc(&taker);
    for (route, path) in [
        ("/api/v1/trades", "/api/v1/trades".to_owned()),
        ("/api/v1/trades/{id}", format!("/api/v1/trades/{id}")),
        (
            "/api/v1/trades/{id}/messages",
            format!("/api/v1/trades/{id}/messages"),
        ),
        (
            "/api/v1/trades/{id}/receipt",
            format!("/api/v1/trades/{id}/receipt"),
        ),
        (
            "/api/v1/reputation/{peer}",
            format!("/api/v1/reputation/{}", maker.peer_id),
        ),
    ] {
        let (status, answer) = api_json(&taker, "GET", &path, None);
        assert_eq!(status, 200, "{path}: {answer}");
        answers_as_documented(&doc, "get", route, status, &answer);
    }
    // The maker's offer is in the taker's book, but not among makers with a settled trade.
    assert!(
        !taker
            .cli_json(&["offer", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let strict = taker.cli_json(&["offer", "list", "--min-settled", "1"]);
    assert!(strict.as_array().unwrap().is_empty(), "{strict}");
    let out = taker.cli(&["trade", "rate", &id, "5"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("has no receipt"), "{}", stderr(&out));
    // A nickname: set, shown to the other side with the reputation, refused when too long.
    let set = maker.cli(&["nickname", "Ahmed's LTC"]);
    assert_eq!(code(&set), 0, "{}", stderr(&set));
    assert_eq!(maker.cli_json(&["nickname"])["nickname"], "Ahmed's LTC");
    poll_until("the maker's nickname at the taker", || {
        (taker.cli_json(&["reputation", &maker.peer_id])["nickname"] == "Ahmed's LTC").then_some(())
    });
    let long = "x".repeat(25);
    let out = maker.cli(&["nickname", &long]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("at most 24"), "{}", stderr(&out));
    let out = taker.cli(&["reputation", "nobody"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("is not a peer id"),
        "{}",
        stderr(&out)
    );
}

/// Stops a node with SIGTERM, as a person's Ctrl-C would, and waits for a clean exit.
fn stop(node: &mut NodeProcess) {
    let status = Command::new("kill")
        .args(["-TERM", &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = node.wait_exit();
    assert!(exit.success(), "{exit}:\n{}", node.log());
}

fn api_json(node: &NodeProcess, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let (status, text) = http(node.host(), method, path, Some(&node.token), body);
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    (status, value)
}

#[test]
fn preferences_survive_a_restart_and_a_bad_one_gets_400_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let mut node = NodeProcess::start(&dir, &[]);

    // A node that came up normally reports every startup phase done, in order.
    let (status, progress) = api_json(&node, "GET", "/api/v1/startup", None);
    assert_eq!(status, 200, "{progress}");
    let phases: Vec<(&str, &str)> = progress["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["phase"].as_str().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        phases,
        [
            ("keystore", "done"),
            ("database", "done"),
            ("network", "done"),
            ("bootstrap", "done"),
            ("book", "done")
        ]
    );

    let (status, defaults) = api_json(&node, "GET", "/api/v1/preferences", None);
    assert_eq!(status, 200, "{defaults}");
    assert_eq!(defaults["theme"], "system");
    assert_eq!(defaults["payment_accounts"], serde_json::json!([]));
    assert_eq!(defaults["accepted_arbitrators"], serde_json::json!([]));
    assert_eq!(defaults["excluded_arbitrators"], serde_json::json!([]));

    let chosen = serde_json::json!({
        "theme": "dark",
        "notifications": { "offer_taken": true, "message": false, "escrow": true, "deadline": true,
                           "matching_offer": true },
        "payment_accounts": [{
            "id": "0190a000-0000-7000-8000-000000000001",
            "method": "SEPA",
            "label": "Main bank",
            "details": "DE89 3704 0044 0532 0130 00"
        }],
        "accepted_arbitrators": [node.peer_id],
        "excluded_arbitrators": [],
        "saved_searches": [],
        "nickname": "Main desk"
    });
    let (status, saved) = api_json(
        &node,
        "PUT",
        "/api/v1/preferences",
        Some(&chosen.to_string()),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, chosen);

    let mut nameless = chosen.clone();
    nameless["payment_accounts"][0]["label"] = "  ".into();
    let (status, error) = api_json(
        &node,
        "PUT",
        "/api/v1/preferences",
        Some(&nameless.to_string()),
    );
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["kind"], "invalid_input");
    assert_eq!(error["message"], "payment account 1 needs a name");
    let mut typo = chosen.clone();
    typo["colour"] = "red".into();
    let (status, error) = api_json(&node, "PUT", "/api/v1/preferences", Some(&typo.to_string()));
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("colour"),
        "{error}"
    );
    // A decision for anybody but the buyer, the seller or a split is refused, naming the choices.
    let (status, error) = api_json(
        &node,
        "POST",
        &format!("/api/v1/disputes/{}/resolve", uuid::Uuid::new_v4()),
        Some(r#"{"to": "nobody"}"#),
    );
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["message"],
        "to: unknown winner \"nobody\": expected buyer, seller or split"
    );
    let mut bad_method = chosen.clone();
    bad_method["payment_accounts"][0]["method"] = "sepa transfer".into();
    let (status, error) = api_json(
        &node,
        "PUT",
        "/api/v1/preferences",
        Some(&bad_method.to_string()),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("sepa transfer"),
        "{error}"
    );

    let mut both = chosen.clone();
    both["excluded_arbitrators"] = serde_json::json!([node.peer_id]);
    let (status, error) = api_json(&node, "PUT", "/api/v1/preferences", Some(&both.to_string()));
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["message"],
        format!("arbitrator {} is both accepted and excluded", node.peer_id)
    );
    let mut not_a_peer = chosen.clone();
    not_a_peer["excluded_arbitrators"] = serde_json::json!(["bob"]);
    let (status, error) = api_json(
        &node,
        "PUT",
        "/api/v1/preferences",
        Some(&not_a_peer.to_string()),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("excluded arbitrator \"bob\" is not a peer id"),
        "{error}"
    );

    stop(&mut node);
    let node = NodeProcess::run(&dir, &[]);
    let (status, after) = api_json(&node, "GET", "/api/v1/preferences", None);
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        after, chosen,
        "the refused saves changed nothing, the restart lost nothing"
    );
}

#[test]
fn an_unreachable_bootstrap_peer_fails_its_phase_and_a_saved_one_is_dialled_live() {
    let tmp = tempfile::tempdir().unwrap();
    let good = NodeProcess::start(&tmp.path().join("good"), &[]);
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody = format!("/ip4/127.0.0.1/tcp/{closed_port}/p2p/{}", good.peer_id);
    let dir = tmp.path().join("lonely");
    init(&dir);
    let hand_written = "# written by hand\n[log]\nfile = false # no log files\n";
    std::fs::write(dir.join("souk.toml"), hand_written).unwrap();
    let node = NodeProcess::run(&dir, &["--bootstrap", &nobody]);

    let (status, progress) = api_json(&node, "GET", "/api/v1/startup", None);
    assert_eq!(status, 200, "{progress}");
    let bootstrap = &progress["phases"][3];
    assert_eq!(bootstrap["phase"], "bootstrap");
    assert_eq!(bootstrap["state"], "failed", "{progress}");
    let message = bootstrap["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("cannot dial {nobody}: connection refused")),
        "{message}"
    );
    // The book still answers, from the cache.
    assert_eq!(progress["phases"][4]["state"], "done", "{progress}");
    let (status, book) = api_json(&node, "GET", "/api/v1/offers", None);
    assert_eq!((status, book), (200, serde_json::json!([])));

    // Settings: the file's values, no password; a bad bootstrap peer is refused, the file untouched.
    let (status, settings) = api_json(&node, "GET", "/api/v1/settings/connection", None);
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["saved"]["bootstrap"], serde_json::json!([]));
    assert_eq!(settings["saved"]["rpc_password_set"], false);
    assert_eq!(
        settings["running"]["bootstrap"],
        serde_json::json!([nobody])
    );
    let edit = |bootstrap: &str| {
        serde_json::json!({
            "chain": "btc", "network": "main", "rpc_url": "", "rpc_user": "",
            "rpc_password": null, "rpc_cookie_file": "", "bootstrap": [bootstrap]
        })
        .to_string()
    };
    let without_peer_id = good
        .bootstrap_addr()
        .split("/p2p/")
        .next()
        .unwrap()
        .to_owned();
    let (status, error) = api_json(
        &node,
        "PUT",
        "/api/v1/settings/connection",
        Some(&edit(&without_peer_id)),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("does not end in /p2p/<PeerId>"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("souk.toml")).unwrap(),
        hand_written
    );

    // A good one is saved (comments kept) and dialled at once; a retry then reaches it.
    let (status, saved) = api_json(
        &node,
        "PUT",
        "/api/v1/settings/connection",
        Some(&edit(&good.bootstrap_addr())),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved["dialled"],
        serde_json::json!([{ "addr": good.bootstrap_addr(), "error": null }])
    );
    assert_eq!(saved["settings"]["restart_needed"], false, "{saved}");
    let text = std::fs::read_to_string(dir.join("souk.toml")).unwrap();
    assert!(text.starts_with(hand_written), "{text}");
    assert!(text.contains(&good.bootstrap_addr()), "{text}");
    let peers = node.cli_json(&["peers"]);
    assert!(
        peers
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer_id"] == good.peer_id.as_str()),
        "{peers}"
    );
    let (status, retried) = api_json(&node, "POST", "/api/v1/startup/retry", None);
    assert_eq!(status, 200, "{retried}");
    let states: Vec<&str> = retried["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done"; 5], "{retried}");
    assert_eq!(
        retried["phases"][3]["detail"],
        "1 of 1 bootstrap peers connected; 1 peer"
    );

    // Testing a chain backend with none given says so; nothing is saved by a test.
    let (status, error) = api_json(
        &node,
        "POST",
        "/api/v1/settings/connection/test",
        Some(&edit(&good.bootstrap_addr())),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no chain backend to test"),
        "{error}"
    );
}

/// The taker's computer is lost while a trade is open: a backup exported from the running node, imported
/// into an empty data directory, brings the trade back, and it goes on to the end.
#[test]
fn a_backup_made_while_the_node_runs_brings_back_an_open_trade_that_then_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let maker = NodeProcess::start(&tmp.path().join("maker"), &["--market", "BTC/EUR"]);
    let addr = maker.bootstrap_addr();
    let taker_dir = tmp.path().join("taker");
    let taker_flags = ["--market", "BTC/EUR", "--bootstrap", &addr];
    // The taker also keeps automatic backups, the newest two.
    let auto = tmp.path().join("auto");
    init(&taker_dir);
    std::fs::write(
        taker_dir.join("souk.toml"),
        format!(
            "[backup]\nfolder = {:?}\nkeep = 2\n",
            auto.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut taker = NodeProcess::run(&taker_dir, &taker_flags);
    let offer = maker.cli_json(POST_SELL);
    let offer_id = offer["id"].as_str().unwrap().to_owned();
    poll_until("the offer in the taker's book", || {
        let list = taker.cli_json(&["offer", "list", "--market", "BTC/EUR"]);
        offer_ids(&list).contains(&offer_id).then_some(())
    });
    let trade = taker.cli_json(&[
        "trade",
        "take",
        &offer_id,
        "--amount",
        "0.05",
        "--method",
        "sepa",
        "--payout",
        "IBAN DE00",
    ]);
    let id = trade["id"].as_str().unwrap().to_owned();
    maker.cli_json(&["trade", "accept", &id]);
    poll_until("the accept", || {
        (taker.cli_json(&["trade", "show", &id])["state"] == "Accepted").then_some(())
    });

    poll_until("an automatic backup after the take", || {
        (std::fs::read_dir(&auto).ok()?.count() > 0).then_some(())
    });

    // Exported while the node runs, into a folder: a new file named by the time.
    let folder = tmp.path().join("usb-stick");
    std::fs::create_dir(&folder).unwrap();
    let out = run(souk(&taker_dir)
        .args(["--json", "backup", "export"])
        .arg(&folder)
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["peer_id"], taker.peer_id.as_str());
    assert_eq!(
        (summary["trades"].as_u64(), summary["open_trades"].as_u64()),
        (Some(1), Some(1))
    );
    let file = PathBuf::from(summary["path"].as_str().unwrap());
    assert_eq!(file.parent(), Some(folder.as_path()));

    // The computer is lost.
    stop(&mut taker);
    drop(taker);
    std::fs::remove_dir_all(&taker_dir).unwrap();

    // Whose backup it is, without the passphrase; a wrong passphrase changes nothing.
    let out = run(souk(&taker_dir).args(["backup", "info"]).arg(&file));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let info = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        info.contains(summary["peer_id"].as_str().unwrap()),
        "{info}"
    );
    let out = run(souk(&taker_dir)
        .args(["backup", "import"])
        .arg(&file)
        .env("SOUK_PASSPHRASE", "not the passphrase"));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wrong passphrase"),
        "{}",
        stderr(&out)
    );
    assert!(
        !taker_dir.exists(),
        "a refused import made the data directory"
    );

    let out = run(souk(&taker_dir)
        .args(["backup", "import"])
        .arg(&file)
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("1 trade, 1 open"), "{text}");
    assert!(text.contains("souk.toml restored"), "{text}");
    assert!(
        text.contains(summary["peer_id"].as_str().unwrap()),
        "{text}"
    );

    // A second import over it is refused, and the restored node goes on with the trade to the end.
    let out = run(souk(&taker_dir)
        .args(["backup", "import"])
        .arg(&file)
        .env("SOUK_PASSPHRASE", PASS));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("already holds an identity"),
        "{}",
        stderr(&out)
    );
    let taker = NodeProcess::run(&taker_dir, &taker_flags);
    assert_eq!(taker.cli_json(&["trade", "show", &id])["state"], "Accepted");
    taker.cli_json(&["trade", "paid", &id]);
    poll_until("the payment in the maker's view", || {
        (maker.cli_json(&["trade", "show", &id])["state"] == "PaymentSent").then_some(())
    });
    maker.cli_json(&["trade", "received", &id]);
    poll_until("the end in the taker's view", || {
        (taker.cli_json(&["trade", "show", &id])["state"] == "Completed").then_some(())
    });

    // The restored node kept making automatic backups (its souk.toml came back with it): the newest
    // two are there, and the newest holds the completed trade.
    let mut attempt = 0;
    poll_until("an automatic backup of the completed trade", || {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&auto)
            .ok()?
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        if files.len() != 2 {
            return None;
        }
        attempt += 1;
        let check = tmp.path().join(format!("check-{attempt}"));
        let out = run(souk(&check)
            .args(["backup", "import"])
            .arg(files.last()?)
            .env("SOUK_PASSPHRASE", PASS));
        String::from_utf8_lossy(&out.stdout)
            .contains("1 trade, 0 open")
            .then_some(())
    });
}

/// A saved search, stored through the API, makes `souk node` stream an `offer_matched` event when
/// another maker's matching offer arrives, and only then.
#[test]
fn a_saved_search_streams_an_event_for_a_matching_offer() {
    let tmp = tempfile::tempdir().unwrap();
    let watcher = NodeProcess::start(&tmp.path().join("watcher"), &["--market", "BTC/EUR"]);
    let maker = NodeProcess::start(
        &tmp.path().join("maker"),
        &[
            "--market",
            "BTC/EUR",
            "--bootstrap",
            &watcher.bootstrap_addr(),
        ],
    );
    let (status, mut prefs) = api_json(&watcher, "GET", "/api/v1/preferences", None);
    assert_eq!(status, 200, "{prefs}");
    prefs["saved_searches"] = serde_json::json!([{
        "id": "0190f4a0-0000-7000-8000-000000000001",
        "name": "Buy BTC by SEPA",
        "query": { "base": "BTC", "quote": "EUR", "side": "sell", "method": "SEPA",
                   "amount": null, "include_mine": null }
    }]);
    let (status, saved) = api_json(
        &watcher,
        "PUT",
        "/api/v1/preferences",
        Some(&prefs.to_string()),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["saved_searches"][0]["name"], "Buy BTC by SEPA");
    let mut events = open_events(&watcher);

    // A buy offer does not match; the sell offer posted after it does.
    let mut buy = POST_SELL.to_vec();
    buy[3] = "buy";
    maker.cli_json(&buy);
    let offer = maker.cli_json(POST_SELL);
    let matched = await_event(&mut events, "offer_matched");
    assert_eq!(matched["search_name"], "Buy BTC by SEPA");
    assert_eq!(matched["offer"]["id"], offer["id"]);
    assert_eq!(matched["search_id"], "0190f4a0-0000-7000-8000-000000000001");
}
