// A Litecoin Core regtest chain for the browser tests: `litecoind -regtest` on a temp datadir and a free
// loopback RPC port, a legacy wallet (Debian's litecoind has no descriptor wallets) with matured coins,
// JSON-RPC over fetch, and the `souk serve` flags that point a node at it.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { until } from './harness.mjs';

// The daemon, not Debian's /usr/bin/litecoind wrapper (its `mkdir ~/.litecoin` races on a fresh machine).
const litecoindPath = process.env.LITECOIND ?? '/usr/lib/litecoin/litecoind';
const RPC_USER = 'souk';
const WALLET = 'souk-test';

/** A loopback port the OS says is free now (litecoind may still lose a race for it: start retries). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function tail(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/** One running regtest node. */
class Litecoind {
  constructor({ dir, child, password, port }) {
    this.dir = dir;
    this.child = child;
    this.password = password;
    this.port = port;
    this.url = `http://127.0.0.1:${port}/`;
    this.miningAddress = null;
  }

  /** The chain node's JSON-RPC with basic auth; `wallet` routes to the test wallet. */
  async rpc(method, params = [], { wallet = false } = {}) {
    const res = await fetch(`${this.url}${wallet ? `wallet/${WALLET}` : ''}`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${RPC_USER}:${this.password}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ jsonrpc: '1.0', id: method, method, params }),
    });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${method}: HTTP ${res.status} ${text}`);
    }
    if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
    return body.result;
  }

  /** A fresh bech32 (`rltc1q…`) address of the test wallet. */
  newAddress() {
    return this.rpc('getnewaddress', ['', 'bech32'], { wallet: true });
  }

  mine(blocks) {
    return this.rpc('generatetoaddress', [blocks, this.miningAddress]);
  }

  /** Pays `coins` from the wallet to `address`; resolves to the txid (unconfirmed until mined). */
  send(address, coins) {
    return this.rpc('sendtoaddress', [address, coins], { wallet: true });
  }

  /** What a wallet address received in transactions with at least `confirmations`. */
  received(address, confirmations = 1) {
    return this.rpc('getreceivedbyaddress', [address, confirmations], { wallet: true });
  }

  /** `souk serve` flags for a node settling on this chain. */
  soukArgs() {
    return ['--chain', 'ltc', '--network', 'regtest', '--rpc-url', this.url, '--rpc-user', RPC_USER, '--rpc-password', this.password];
  }

  logs() {
    return `stderr:\n${tail(join(this.dir, 'stderr.log'))}\ndebug.log:\n${tail(join(this.dir, 'regtest', 'debug.log'))}`;
  }

  stop() {
    const { child, dir } = this;
    return new Promise((resolve) => {
      const done = () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null) return done();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      child.kill('SIGTERM');
    });
  }
}

/** Starts litecoind on a fresh datadir and port; resolves once its RPC answers, or rejects. */
async function tryStart(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-ltc-`));
  // Unique per node, so another node that grabbed our port cannot be mistaken for ours.
  const password = `${basename(dir).replace(/[^A-Za-z0-9]/g, '')}-regtest`;
  const port = await freePort();
  const stderr = join(dir, 'stderr.log');
  writeFileSync(stderr, '');
  const child = spawn(
    litecoindPath,
    [
      '-regtest',
      `-datadir=${dir}`,
      // No transaction index: Souk watches escrows in a watch-only wallet of its own on the node.
      '-txindex=0',
      '-fallbackfee=0.0002',
      '-keypool=10',
      `-rpcuser=${RPC_USER}`,
      `-rpcpassword=${password}`,
      `-rpcport=${port}`,
      '-rpcbind=127.0.0.1',
      '-rpcallowip=127.0.0.1',
      '-server=1',
      '-listen=0',
      '-listenonion=0',
      '-dnsseed=0',
      '-discover=0',
      '-printtoconsole=0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.on('data', (d) => writeFileSync(stderr, d, { flag: 'a' }));
  const node = new Litecoind({ dir, child, password, port });
  // The probe returns a failure instead of throwing it: `until` retries on throws.
  const outcome = await until('litecoind RPC to answer', 60_000, async () => {
    if (child.exitCode !== null) {
      const logs = node.logs();
      const error = new Error(`litecoind exited (${child.exitCode}) on port ${port}:\n${logs}`);
      error.fatal = !/bind/i.test(logs);
      return { error };
    }
    try {
      await node.rpc('getblockchaininfo');
      return { ok: true };
    } catch (e) {
      // 401: another server answered on this port, with another password.
      if (/HTTP 401/.test(e.message)) return { error: new Error(`another RPC server answered on port ${port}`) };
      return false; // not listening yet, or warming up (-28)
    }
  }).catch((error) => ({ error }));
  if (outcome.error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw outcome.error;
  }
  return node;
}

/** A regtest node with a wallet and 101 mined blocks (one matured coinbase); retries on a lost port race. */
export async function startLitecoind(prefix) {
  const failures = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    let node;
    try {
      node = await tryStart(prefix);
      await node.rpc('createwallet', [WALLET]);
      node.miningAddress = await node.newAddress();
      await node.mine(101);
      return node;
    } catch (e) {
      await node?.stop();
      if (e.fatal) throw e;
      failures.push(e.message);
    }
  }
  throw new Error(`litecoind did not start in 5 attempts:\n${failures.join('\n---\n')}`);
}
