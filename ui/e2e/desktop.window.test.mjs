// The desktop window remembers its size: resized, then closed (with no trade open, closing quits), then
// started again on the same data dir, it comes back at the size it had. The real souk-desktop binary under
// Xvfb, through WebDriver; the close is the window manager's WM_DELETE_WINDOW, as from a close button.
// Env: SOUK_DESKTOP_BIN, TAURI_DRIVER, SOUK_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchApp, running, startBus, startDesktopSession, step, until } from './desktop.mjs';

let bus;
let desktop;
const dirs = [];
const apps = [];

before(async () => {
  bus = await startBus();
  desktop = await startDesktopSession(bus.address);
});

after(async () => {
  for (const app of apps) await app.stop();
  desktop?.stop();
  bus?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A data dir of the test's own; the node stays on loopback. */
function freshDir() {
  const dir = mkdtempSync(join(tmpdir(), 'souk-desktop-window-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'souk.toml'), '[net]\nlisten = ["/ip4/127.0.0.1/tcp/0"]\nmdns = false\n\n[price]\nurl = ""\n');
  return dir;
}

async function start(dataDir) {
  const app = await launchApp({ dataDir, env: { DBUS_SESSION_BUS_ADDRESS: bus.address } });
  apps.push(app);
  await app.find('[data-testid="first-run"]');
  return app;
}

const rectOf = (app) => app.wd('GET', app.s('/window/rect'));

test('closing with no trade open quits, and the window comes back at the size it was closed at', async (t) => {
  const dataDir = freshDir();
  const first = await start(dataDir);
  await step(t, first, 'desktop-window-resize', async () => {
    const initial = await rectOf(first);
    // A size of its own, not the default 1200×780, above the 1024×640 minimum.
    const wanted = { width: 1111, height: 700 };
    await first.wd('POST', first.s('/window/rect'), wanted);
    await until('the window to take the new size', 10_000, async () => {
      const rect = await rectOf(first);
      return rect.width === wanted.width && rect.height === wanted.height;
    });
    t.diagnostic(`resized from ${initial.width}×${initial.height} to ${wanted.width}×${wanted.height}`);

    const pid = await first.pid();
    await desktop.call('close', { pid });
    await until('the app to quit (nothing is open)', 15_000, () => !running(pid));
    assert.equal(
      desktop.notifications().filter((n) => n.summary === 'Souk keeps running').length,
      0,
      'told it keeps running, but it quit',
    );
    const saved = JSON.parse(readFileSync(join(dataDir, 'window-state.json'), 'utf8'));
    assert.equal(saved.width, wanted.width);
    assert.equal(saved.height, wanted.height);
    assert.equal(saved.maximized, false);
  });
  await first.stop();

  const second = await start(dataDir);
  await step(t, second, 'desktop-window-restored', async () => {
    const rect = await rectOf(second);
    assert.equal(rect.width, 1111);
    assert.equal(rect.height, 700);
    t.diagnostic(`screenshot: ${await second.screenshot('desktop-window-restored')}`);
  });
});

test('a damaged window state file is ignored: the window opens at its default size, and closing writes a sound one', async (t) => {
  const dataDir = freshDir();
  const file = join(dataDir, 'window-state.json');
  writeFileSync(file, '{"width": "wide"');
  const app = await start(dataDir);
  await step(t, app, 'desktop-window-damaged-state', async () => {
    const rect = await rectOf(app);
    assert.equal(rect.width, 1200);
    assert.equal(rect.height, 780);
    const pid = await app.pid();
    await desktop.call('close', { pid });
    await until('the app to quit (nothing is open)', 15_000, () => !running(pid));
    // What the app wrote, not what the test did: the size it had, readable again.
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual([saved.width, saved.height, saved.maximized], [1200, 780, false]);
  });
  await app.stop();
});
