// What the desktop tests share: the real souk-desktop binary in a real WebKitGTK window (under Xvfb, started
// by `cargo xtask test`), driven through WebDriver (tauri-driver in front of Debian's WebKitWebDriver), on a
// D-Bus session bus of the test's own with a stand-in desktop (`desktop_session.py`: a notification server
// that records every notification, a tray host, and a window manager's close button).
// Env: SOUK_DESKTOP_BIN (the app), TAURI_DRIVER (the driver), SOUK_ARTIFACTS (where screenshots go).

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const appBin = process.env.SOUK_DESKTOP_BIN;
const driverBin = process.env.TAURI_DRIVER ?? 'tauri-driver';
const artifacts = process.env.SOUK_ARTIFACTS ?? join(tmpdir(), 'souk-artifacts');
// Debian's Python, which has python3-dbus, python3-gi and python3-xlib (not a version manager's).
const python = process.env.SOUK_SESSION_PYTHON ?? '/usr/bin/python3';

// Waiting on a condition, not a fixed sleep: the browser harness's `until`, re-exported for the desktop tests.
export { until };

/** Runs a program to its end; rejects with its stderr if it fails or takes longer than `ms`. */
function run(program, args, ms) {
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: ms }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${program} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });
}

/** A port the kernel says is free right now (tauri-driver takes ports, not port 0). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function killGroup(child) {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.stdin?.destroy();
}

/** A private D-Bus session bus (`dbus-daemon --session`), so nothing reaches a real desktop. */
export async function startBus() {
  const child = spawn('dbus-daemon', ['--session', '--nofork', '--nopidfile', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const address = await until('the session bus to start', 10_000, () => {
    if (child.exitCode !== null) throw new Error(`dbus-daemon exited: ${out}`);
    const line = out.split('\n')[0];
    return out.includes('\n') && line.startsWith('unix:') ? line : undefined;
  });
  return { address, stop: () => killGroup(child) };
}

/**
 * The stand-in desktop on `busAddress`: `events` holds what it recorded (notifications, tray icons);
 * `call(cmd, args)` asks it something (`tray`, `click`, `window`, `close`).
 */
export async function startDesktopSession(busAddress) {
  const child = spawn(python, [join(here, 'desktop_session.py')], {
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const events = [];
  const replies = new Map();
  let log = '';
  let buffered = '';
  child.stdout.on('data', (d) => {
    buffered += d;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const event = JSON.parse(line);
      if (event.event === 'reply') replies.set(event.id, event);
      else events.push(event);
    }
  });
  child.stderr.on('data', (d) => (log += d));
  await until('the desktop session to own its names', 10_000, () => {
    if (child.exitCode !== null) throw new Error(`desktop_session.py exited: ${log}`);
    return events.some((e) => e.event === 'ready');
  });
  let nextId = 0;
  async function call(cmd, args = {}) {
    const id = ++nextId;
    child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    const reply = await until(`the desktop session to answer ${cmd}`, 15_000, () => replies.get(id));
    replies.delete(id);
    if (!reply.ok) throw new Error(`${cmd}: ${reply.error}`);
    return reply.result;
  }
  const notifications = () => events.filter((e) => e.event === 'notify');
  return { events, notifications, call, log: () => log, stop: () => killGroup(child) };
}

/** The pid of the app running on `dataDir` (WebKitWebDriver starts it; its environment names the dir). */
export function appPid(dataDir) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
      if (argv0 !== appBin) continue;
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (env.includes(`SOUK_DATA_DIR=${dataDir}`)) return Number(entry);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

/** Whether `pid` is a running process (a zombie has exited). */
export function running(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * Starts tauri-driver and, through it, the app on `dataDir` with `env` added; returns WebDriver helpers
 * bound to that session.
 */
export async function launchApp({ dataDir, env = {} }) {
  assert.ok(appBin, 'SOUK_DESKTOP_BIN must name the souk-desktop binary (run through `cargo xtask test`)');
  const [port, nativePort] = [await freePort(), await freePort()];
  // Its own process group, so the driver, WebKitWebDriver and the app all go down together.
  const driver = spawn(driverBin, ['--port', String(port), '--native-port', String(nativePort)], {
    env: { ...process.env, ...env, SOUK_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const app = { driverLog: '', session: undefined, dataDir };
  driver.stdout.on('data', (d) => (app.driverLog += d));
  driver.stderr.on('data', (d) => (app.driverLog += d));
  const base = `http://127.0.0.1:${port}`;

  async function wd(method, path, body) {
    const res = await fetch(`${base}${path}`, {
      method,
      signal: AbortSignal.timeout(60_000),
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
    return json.value;
  }
  await until('tauri-driver to listen', 30_000, async () => (await fetch(`${base}/status`)).ok || undefined);
  const created = await wd('POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application: appBin } } },
  });
  app.session = created.sessionId;
  const s = (rest = '') => `/session/${app.session}${rest}`;
  const el = (id, rest = '') => s(`/element/${id}${rest}`);

  Object.assign(app, {
    wd,
    s,
    el,
    pid: () => until('the app process', 10_000, () => appPid(dataDir)),
    async findAll(css, using = 'css selector') {
      const found = await wd('POST', s('/elements'), { using, value: css });
      return found.map((e) => Object.values(e)[0]);
    },
    async find(css, { using = 'css selector', ms = 30_000 } = {}) {
      return until(`element ${css}`, ms, async () => (await app.findAll(css, using))[0]);
    },
    click: (id) => wd('POST', el(id, '/click'), {}),
    type: (id, text) => wd('POST', el(id, '/value'), { text }),
    text: (id) => wd('GET', el(id, '/text')),
    /** The DOM's textContent (WebDriver's element text skips line-clamped boxes in WebKit). */
    textContent: (id) =>
      wd('POST', s('/execute/sync'), {
        script: 'return arguments[0].textContent;',
        args: [{ 'element-6066-11e4-a52e-4f735466cecf': id }],
      }),
    /** Resolves after the page has painted twice, so a screenshot shows what a person would see. */
    painted: () =>
      wd('POST', s('/execute/async'), {
        script: 'const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));',
        args: [],
      }),
    /**
     * The X server's picture of the screen (ImageMagick's `import`): the window as a person sees it. Not
     * WebDriver's screenshot: WebKitGTK's never answers while accelerated compositing is off, and the
     * app turns it off (src-tauri/src/webkit.rs).
     */
    async screenshot(name) {
      await app.painted();
      mkdirSync(artifacts, { recursive: true });
      const file = join(artifacts, `${name}.png`);
      await run('import', ['-window', 'root', file], 20_000);
      return file;
    },
    /** Ends the WebDriver session (which ends the app if it still runs) and the driver. */
    async stop() {
      if (app.session) await wd('DELETE', s()).catch(() => {});
      app.session = undefined;
      killGroup(driver);
    },
  });
  return app;
}

/** Runs a test step; on failure saves a screenshot and the driver's and the desktop's output. */
export async function step(t, app, name, body, more = () => []) {
  try {
    await body();
  } catch (e) {
    t.diagnostic(`tauri-driver output:\n${app.driverLog}`);
    for (const line of more()) t.diagnostic(line);
    await app.screenshot(`${name}-failure`).catch(() => {});
    throw e;
  }
}
