// Vitest's global setup: a real `souk node` for `src/test/contract.test.ts`, which checks the fake backend
// against it. Started only when SOUK_CLI_BIN names the binary (`cargo xtask test` sets it, with
// SOUK_CONTRACT=required, in its contract step); a plain `npm test` runs without it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type {} from './src/test/soukNode';

const PASSPHRASE = 'contract test passphrase';

export default async function setup(project: TestProject): Promise<() => void> {
  const cli = process.env.SOUK_CLI_BIN;
  project.provide('soukNodeRequired', process.env.SOUK_CONTRACT === 'required');
  if (!cli) {
    project.provide('soukNode', null);
    return () => undefined;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'souk-contract-'));
  const passFile = join(dataDir, 'passphrase.txt');
  writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  // Loopback only, no price feed, no chain node: what the fake starts with.
  writeFileSync(join(dataDir, 'souk.toml'), '[price]\nurl = ""\n');
  const env = { ...process.env, SOUK_LOG: 'warn' };
  const init = spawnSync(cli, ['--data-dir', dataDir, '--passphrase-file', passFile, '--json', 'init'], {
    env,
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`souk init failed: ${init.stderr}`);
  const args = ['--data-dir', dataDir, '--passphrase-file', passFile, '--json', 'node'];
  args.push('--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--market', 'BTC/EUR');
  const child = spawn(cli, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!log.split('\n').some((l) => l.startsWith('{'))) {
    if (child.exitCode !== null) throw new Error(`souk node exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`souk node did not start within 60 s: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const api = JSON.parse(readFileSync(join(dataDir, 'api.json'), 'utf8')) as { url: string; token: string };
  project.provide('soukNode', { url: api.url, token: api.token, passphrase: PASSPHRASE });
  return () => {
    child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  };
}
