// The desktop package as the Tauri bundler made it (`cargo xtask test` builds a debug one; `cargo xtask
// dist` the release one), read with dpkg-deb: its name and version, what it depends on, the binary, the
// desktop entry and the icons. Env: SOUK_DEB (the .deb).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const deb = process.env.SOUK_DEB;
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let unpacked;
/** `./` or nothing: how the archive names its paths. */
let prefix;

const dpkgDeb = (...args) => execFileSync('dpkg-deb', [...args, deb], { encoding: 'utf8', maxBuffer: 1 << 24 });

before(() => {
  assert.ok(deb, 'SOUK_DEB must name the .deb (run through `cargo xtask test`)');
  unpacked = mkdtempSync(join(tmpdir(), 'souk-deb-'));
  prefix = dpkgDeb('-c').includes(' ./usr/') ? './' : '';
  // Everything but the (large) binary, which is checked from the archive stream below.
  const unpack = 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "$3usr/share/*"';
  execFileSync('sh', ['-c', unpack, 'sh', deb, unpacked, prefix]);
});

after(() => {
  if (unpacked) rmSync(unpacked, { recursive: true, force: true });
});

/** `Field: value` lines of the control file. */
function control() {
  return Object.fromEntries(
    dpkgDeb('-f')
      .split('\n')
      .filter((l) => /^[A-Za-z-]+: /.test(l))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
  );
}

test('the package is souk at the version of the app, and depends on the WebKitGTK runtime and the tray library', () => {
  const fields = control();
  assert.equal(fields.Package, 'souk');
  const conf = JSON.parse(readFileSync(join(root, 'src-tauri/tauri.conf.json'), 'utf8'));
  const cargo = readFileSync(join(root, 'Cargo.toml'), 'utf8').match(/\[workspace\.package\][^[]*?version = "([^"]+)"/);
  assert.equal(fields.Version, conf.version);
  assert.equal(fields.Version, cargo?.[1], 'tauri.conf.json and the workspace disagree on the version');
  assert.equal(fields.Architecture, execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim());
  const depends = fields.Depends.split(',').map((d) => d.trim().split(' ')[0]);
  for (const runtime of ['libwebkit2gtk-4.1-0', 'libgtk-3-0', 'libayatana-appindicator3-1']) {
    assert.ok(depends.includes(runtime), `Depends lacks ${runtime}: ${fields.Depends}`);
  }
  assert.match(fields.Description, /^Trade crypto directly, peer to peer/);
});

test('it installs the app binary, executable, as /usr/bin/souk-desktop', () => {
  const listing = dpkgDeb('-c').split('\n');
  const binary = listing.find((l) => l.endsWith(` ${prefix}usr/bin/souk-desktop`));
  assert.ok(binary, `no /usr/bin/souk-desktop in:\n${listing.join('\n')}`);
  assert.match(binary, /^-rwxr-xr-x /);
  const head = execFileSync('sh', [
    '-c',
    'dpkg-deb --fsys-tarfile "$1" 2>/dev/null | tar -xO "$2usr/bin/souk-desktop" 2>/dev/null | head -c 4',
    'sh',
    deb,
    prefix,
  ]);
  assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46], 'the binary is not an ELF executable');
});

test('a desktop entry starts it by name with its icon', () => {
  const apps = join(unpacked, 'usr/share/applications');
  const entries = readdirSync(apps).filter((f) => f.endsWith('.desktop'));
  assert.equal(entries.length, 1, `desktop entries: ${entries.join(', ')}`);
  const entry = readFileSync(join(apps, entries[0]), 'utf8');
  assert.match(entry, /^\[Desktop Entry\]$/m);
  assert.match(entry, /^Name=Souk$/m);
  assert.match(entry, /^Exec=souk-desktop$/m);
  assert.match(entry, /^Icon=souk-desktop$/m);
  assert.match(entry, /^Type=Application$/m);
  assert.match(entry, /^Categories=.*Finance;/m);
});

test('icons come at several sizes, each a PNG of the size its folder names', () => {
  const hicolor = join(unpacked, 'usr/share/icons/hicolor');
  const sizes = readdirSync(hicolor).filter((d) => readdirSync(join(hicolor, d, 'apps')).includes('souk-desktop.png'));
  assert.ok(sizes.length >= 3, `icon sizes: ${sizes.join(', ')}`);
  for (const dir of sizes) {
    const png = readFileSync(join(hicolor, dir, 'apps/souk-desktop.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG', `${dir} is not a PNG`);
    // IHDR: width and height, big-endian, right after the signature and the chunk header.
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    // The bundler names folders by pixel size (its "256x256@2" holds the 256-pixel 128x128@2x icon).
    const [, w, h] = dir.match(/^(\d+)x(\d+)(?:@\d+)?$/) ?? [];
    assert.ok(w, `unexpected icon folder ${dir}`);
    assert.deepEqual([width, height], [Number(w), Number(h)], dir);
  }
  assert.ok(sizes.includes('32x32') && sizes.includes('128x128'), sizes.join(', '));
});
