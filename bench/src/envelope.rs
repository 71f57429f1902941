//! What a sealed envelope costs next to the cipher inside it: for each payload size, a real
//! [`TradeChannel`] pair (sealed take, opened, accepted, finished, as two nodes do) seals N payloads
//! with [`Sender::seal`] + [`SignedEnvelope::to_bytes`] and opens them with [`Receiver::receive`]:
//! the whole sign / verify / AEAD / sequence path. Baseline, on the same payloads and interleaved
//! batch by batch so both see the same machine: bare ChaCha20-Poly1305 encrypt and decrypt under one
//! fixed key with counter nonces, the least any encrypted channel must do.
//!
//! Batches keep the clock out of the loop (one reading per batch, not per operation) and memory
//! bounded; every opened payload is compared with what was sealed, after its batch's clock stopped.
//! CPU only: no network, no database, no sleeping.

use std::{
    fmt,
    hint::black_box,
    time::{Duration, Instant},
};

use anyhow::Context;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, aead::Aead};
use libp2p::identity::Keypair;
use serde::Serialize;
use souk_core::channel::{
    ChannelError, Delivered, Receiver, Sender, SignedEnvelope, TradeChannel, accept_take,
    open_take, seal_take,
};
use uuid::Uuid;
use x25519_dalek::StaticSecret;

/// The payload sizes measured by default: a chat line, a long message, a PSBT, and the largest
/// plaintext one envelope carries ([`souk_core::channel::MAX_PLAINTEXT_BYTES`]).
pub const DEFAULT_SIZES: [usize; 4] = [64, 1024, 16 * 1024, 60 * 1024];
/// The baseline's one fixed key.
const RAW_KEY: [u8; 32] = [0x5a; 32];
/// At most this many payload bytes in flight per batch (and at most [`MAX_BATCH`] payloads).
const BATCH_BYTES: usize = 4 * 1024 * 1024;
const MAX_BATCH: usize = 256;

/// What to measure.
#[derive(Debug, Clone)]
pub struct EnvelopeSettings {
    /// Payload sizes in bytes, each at most `MAX_PLAINTEXT_BYTES`.
    pub sizes: Vec<usize>,
    /// Timed operations per size (for each of seal, open, encrypt, decrypt).
    pub iterations: usize,
    /// Untimed operations per size first, so caches and branch predictors are warm for both.
    pub warmup: usize,
}

impl EnvelopeSettings {
    /// The default sizes, a tenth of `iterations` as warm-up.
    pub fn new(iterations: usize) -> Self {
        Self {
            sizes: DEFAULT_SIZES.to_vec(),
            iterations,
            warmup: iterations.div_ceil(10),
        }
    }
}

/// One timed operation over `ops` payloads.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Throughput {
    pub ops: usize,
    pub secs: f64,
    /// Payload bytes per second, in 10^6 B/s.
    pub mb_per_s: f64,
    pub us_per_op: f64,
}

impl Throughput {
    fn of(ops: usize, payload: usize, took: Duration) -> Self {
        let secs = took.as_secs_f64();
        let (mb_per_s, us_per_op) = if secs > 0.0 && ops > 0 {
            ((ops * payload) as f64 / secs / 1e6, secs * 1e6 / ops as f64)
        } else {
            (0.0, 0.0)
        };
        Self {
            ops,
            secs,
            mb_per_s,
            us_per_op,
        }
    }
}

/// One payload size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub payload_bytes: usize,
    /// A signed envelope of this payload on the wire.
    pub wire_bytes: usize,
    /// `Sender::seal` + `SignedEnvelope::to_bytes`.
    pub seal: Throughput,
    /// `Receiver::receive` (decode, signature, header checks, AEAD, sequence).
    pub open: Throughput,
    pub raw_encrypt: Throughput,
    pub raw_decrypt: Throughput,
    /// Envelope MB/s ÷ raw MB/s (1.0 would be as fast as the bare cipher).
    pub seal_ratio: Option<f64>,
    pub open_ratio: Option<f64>,
    /// Seal and open together against encrypt and decrypt together.
    pub round_trip_ratio: Option<f64>,
    /// Envelopes delivered once, in order, with the payload that was sealed.
    pub delivered: usize,
    /// Raw ciphertexts that decrypted back to their payload.
    pub raw_verified: usize,
    /// The first failure, when an envelope or ciphertext did not come back.
    pub first_error: Option<String>,
}

/// Everything measured, as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct EnvelopeReport {
    pub iterations: usize,
    pub warmup: usize,
    pub sizes: Vec<SizeReport>,
    pub total_secs: f64,
}

impl EnvelopeReport {
    pub fn all_delivered(&self) -> bool {
        !self.sizes.is_empty()
            && self
                .sizes
                .iter()
                .all(|s| s.delivered == self.iterations && s.raw_verified == self.iterations)
    }
}

/// Measures every size. Errors only when the channel cannot be set up; an envelope that does not
/// come back is counted and reported.
pub fn run_envelope(settings: &EnvelopeSettings) -> anyhow::Result<EnvelopeReport> {
    anyhow::ensure!(
        settings.iterations >= 1,
        "envelope needs at least 1 iteration"
    );
    anyhow::ensure!(!settings.sizes.is_empty(), "envelope needs at least 1 size");
    for &size in &settings.sizes {
        anyhow::ensure!(
            (1..=souk_core::channel::MAX_PLAINTEXT_BYTES).contains(&size),
            "payload size {size} is outside 1..={} bytes",
            souk_core::channel::MAX_PLAINTEXT_BYTES
        );
    }
    let started = Instant::now();
    let sizes = settings
        .sizes
        .iter()
        .map(|&size| measure_size(size, settings))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(EnvelopeReport {
        iterations: settings.iterations,
        warmup: settings.warmup,
        sizes,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

/// Both ends of one trade's channel, established the way two nodes establish it.
struct ChannelPair {
    maker_key: Keypair,
    maker: TradeChannel,
    taker: TradeChannel,
}

fn establish() -> anyhow::Result<ChannelPair> {
    let maker_key = Keypair::generate_ed25519();
    let taker_key = Keypair::generate_ed25519();
    let maker_id = maker_key.public().to_peer_id();
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let maker_static = StaticSecret::from(secret);
    let maker_static_pub = x25519_dalek::PublicKey::from(&maker_static).to_bytes();
    let (sealed, handshake) = seal_take(
        maker_id,
        &maker_static_pub,
        Uuid::now_v7(),
        Uuid::now_v7(),
        b"benchmark take request",
        &taker_key,
    )?;
    let opened = open_take(&maker_static, maker_id, &sealed.to_bytes()?)?;
    let (accept, maker) = accept_take(&opened, &maker_key)?;
    let taker = handshake.finish(&accept.to_bytes()?)?;
    Ok(ChannelPair {
        maker_key,
        maker,
        taker,
    })
}

/// 96-bit counter nonce, laid out as the channel lays out its own: four zero bytes, then the counter.
fn counter_nonce(counter: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    Nonce::from(nonce)
}

/// Running totals of one size.
#[derive(Default)]
struct Tally {
    seal: Duration,
    open: Duration,
    encrypt: Duration,
    decrypt: Duration,
    delivered: usize,
    raw_verified: usize,
    first_error: Option<String>,
}

impl Tally {
    fn fail(&mut self, what: impl fmt::Display) {
        self.first_error.get_or_insert_with(|| what.to_string());
    }
}

/// The maker seals, the taker opens; the same payloads go through the bare cipher.
struct Rig {
    pair: ChannelPair,
    sender: Sender,
    receiver: Receiver,
    cipher: ChaCha20Poly1305,
    /// Counter of the next raw nonce (the sender numbers its envelopes itself).
    raw_next: u64,
    payload: Vec<u8>,
    wire: Vec<Vec<u8>>,
    opened: Vec<Result<Vec<Delivered>, ChannelError>>,
    sealed_raw: Vec<Vec<u8>>,
    opened_raw: Vec<Result<Vec<u8>, chacha20poly1305::aead::Error>>,
}

fn measure_size(size: usize, settings: &EnvelopeSettings) -> anyhow::Result<SizeReport> {
    let pair = establish().context("establishing a trade channel")?;
    let mut payload = vec![0u8; size];
    getrandom::fill(&mut payload).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let batch = (BATCH_BYTES / size).clamp(1, MAX_BATCH);
    let mut rig = Rig {
        sender: pair.maker.sender(),
        receiver: pair.taker.receiver(),
        pair,
        cipher: ChaCha20Poly1305::new(&Key::from(RAW_KEY)),
        raw_next: 0,
        payload,
        wire: Vec::with_capacity(batch),
        opened: Vec::with_capacity(batch),
        sealed_raw: Vec::with_capacity(batch),
        opened_raw: Vec::with_capacity(batch),
    };
    let wire_bytes = rig
        .sender
        .clone()
        .seal(&rig.pair.maker.keys, &rig.pair.maker_key, &rig.payload)?
        .to_bytes()?
        .len();

    let mut warm = Tally::default();
    let mut left = settings.warmup;
    while left > 0 {
        let n = left.min(batch);
        rig.batch(n, &mut warm);
        left -= n;
    }
    let mut tally = Tally::default();
    let mut left = settings.iterations;
    while left > 0 {
        let n = left.min(batch);
        rig.batch(n, &mut tally);
        left -= n;
    }
    if let Some(e) = warm.first_error {
        tally.fail(format!("during the warm-up: {e}"));
    }

    let ops = settings.iterations;
    let seal = Throughput::of(ops, size, tally.seal);
    let open = Throughput::of(ops, size, tally.open);
    let raw_encrypt = Throughput::of(ops, size, tally.encrypt);
    let raw_decrypt = Throughput::of(ops, size, tally.decrypt);
    let both = |a: Duration, b: Duration| Throughput::of(ops, size, a + b).mb_per_s;
    Ok(SizeReport {
        payload_bytes: size,
        wire_bytes,
        seal_ratio: ratio(seal.mb_per_s, raw_encrypt.mb_per_s),
        open_ratio: ratio(open.mb_per_s, raw_decrypt.mb_per_s),
        round_trip_ratio: ratio(
            both(tally.seal, tally.open),
            both(tally.encrypt, tally.decrypt),
        ),
        seal,
        open,
        raw_encrypt,
        raw_decrypt,
        delivered: tally.delivered,
        raw_verified: tally.raw_verified,
        first_error: tally.first_error,
    })
}

fn ratio(envelope: f64, raw: f64) -> Option<f64> {
    (envelope > 0.0 && raw > 0.0).then(|| envelope / raw)
}

impl Rig {
    /// `n` payloads through each of the four operations, each timed as a whole; then the checks.
    fn batch(&mut self, n: usize, tally: &mut Tally) {
        let first_seq = self.sender.next_seq();
        let first = self.raw_next;
        self.raw_next += n as u64;
        let keys = &self.pair;

        let started = Instant::now();
        for _ in 0..n {
            let sealed = self
                .sender
                .seal(&keys.maker.keys, &keys.maker_key, black_box(&self.payload))
                .and_then(|signed| SignedEnvelope::to_bytes(&signed));
            match sealed {
                Ok(bytes) => self.wire.push(black_box(bytes)),
                Err(e) => {
                    tally.fail(format!("seal: {e}"));
                    break;
                }
            }
        }
        tally.seal += started.elapsed();

        let started = Instant::now();
        for bytes in &self.wire {
            let delivered = self.receiver.receive(&keys.taker.keys, black_box(bytes));
            self.opened.push(black_box(delivered));
        }
        tally.open += started.elapsed();

        let started = Instant::now();
        for counter in first..first + n as u64 {
            let nonce = counter_nonce(counter);
            match self
                .cipher
                .encrypt(&nonce, black_box(self.payload.as_slice()))
            {
                Ok(ciphertext) => self.sealed_raw.push(black_box(ciphertext)),
                Err(e) => {
                    tally.fail(format!("raw encrypt: {e}"));
                    break;
                }
            }
        }
        tally.encrypt += started.elapsed();

        let started = Instant::now();
        for (counter, ciphertext) in (first..).zip(&self.sealed_raw) {
            let nonce = counter_nonce(counter);
            let plaintext = self
                .cipher
                .decrypt(&nonce, black_box(ciphertext.as_slice()));
            self.opened_raw.push(black_box(plaintext));
        }
        tally.decrypt += started.elapsed();

        // Outside the clock: every envelope came back alone, in order, with its payload.
        for (seq, opened) in (first_seq..).zip(self.opened.drain(..)) {
            match opened {
                Ok(delivered) => match delivered.as_slice() {
                    [one] if one.seq == seq && one.plaintext == self.payload => {
                        tally.delivered += 1;
                    }
                    _ => tally.fail(format!(
                        "envelope {seq} delivered as {} items",
                        delivered.len()
                    )),
                },
                Err(e) => tally.fail(format!("open envelope {seq}: {e}")),
            }
        }
        for opened in self.opened_raw.drain(..) {
            match opened {
                Ok(plaintext) if plaintext == self.payload => tally.raw_verified += 1,
                Ok(_) => tally.fail("a raw ciphertext decrypted to another payload"),
                Err(e) => tally.fail(format!("raw decrypt: {e}")),
            }
        }
        self.wire.clear();
        self.sealed_raw.clear();
    }
}

impl fmt::Display for EnvelopeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "envelope: {} operations per size ({} warm-up); MB/s = 10^6 payload bytes per second",
            self.iterations, self.warmup
        )?;
        writeln!(
            f,
            "ratio = envelope MB/s / raw ChaCha20-Poly1305 MB/s (1.0 would be as fast as the bare cipher)"
        )?;
        writeln!(
            f,
            "{:>8} {:>7} | {:>9} {:>9} {:>8} {:>8} | {:>9} {:>9} {:>8} {:>8} | {:>8}",
            "payload",
            "wire",
            "seal MB/s",
            "raw MB/s",
            "ratio",
            "seal µs",
            "open MB/s",
            "raw MB/s",
            "ratio",
            "open µs",
            "both"
        )?;
        let opt = |r: Option<f64>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.4}"));
        for s in &self.sizes {
            writeln!(
                f,
                "{:>8} {:>7} | {:>9.1} {:>9.1} {:>8} {:>8.2} | {:>9.1} {:>9.1} {:>8} {:>8.2} | {:>8}",
                bytes(s.payload_bytes),
                bytes(s.wire_bytes),
                s.seal.mb_per_s,
                s.raw_encrypt.mb_per_s,
                opt(s.seal_ratio),
                s.seal.us_per_op,
                s.open.mb_per_s,
                s.raw_decrypt.mb_per_s,
                opt(s.open_ratio),
                s.open.us_per_op,
                opt(s.round_trip_ratio),
            )?;
        }
        for s in &self.sizes {
            if s.delivered < self.iterations || s.raw_verified < self.iterations {
                writeln!(
                    f,
                    "{}: only {} / {} envelopes and {} / {} raw ciphertexts came back ({})",
                    bytes(s.payload_bytes),
                    s.delivered,
                    self.iterations,
                    s.raw_verified,
                    self.iterations,
                    s.first_error.as_deref().unwrap_or("no error recorded")
                )?;
            }
        }
        writeln!(
            f,
            "delivered: every payload of every size: {}; total {:.2} s",
            if self.all_delivered() { "yes" } else { "NO" },
            self.total_secs
        )
    }
}

/// 64 → "64 B", 16384 → "16 KiB", 1100 → "1100 B".
fn bytes(n: usize) -> String {
    if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} B")
    }
}
