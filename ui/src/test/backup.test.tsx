import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { formatMadeAt } from '../logic/backup';
import { FAKE_DATA_DIR, FAKE_PEER_ID, FakeBackend, fakeBackupSummary, fakeTrade } from './fakeBackend';
import { renderApp } from './renderApp';

const FILE = '/media/usb/souk-backup-20261204-153000.soukbackup';

async function openBackupSettings(backend: FakeBackend) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  await rendered.user.click(within(nav).getByRole('button', { name: 'Settings' }));
  const section = await screen.findByRole('region', { name: 'Backup' });
  return { section, ...rendered };
}

async function openRestoreBackup(backend: FakeBackend) {
  const rendered = renderApp(backend);
  await rendered.user.click(await screen.findByRole('button', { name: /Restore from a backup file/ }));
  await screen.findByRole('heading', { level: 1, name: 'Restore from a backup file' });
  return rendered;
}

describe('Settings: backup', () => {
  it('says what the file holds, exports it and shows where it went, its size and its trades', async () => {
    const backend = new FakeBackend({ state: 'unlocked', passphrase: 'correct horse' });
    backend.tradeList = [fakeTrade({ state: 'Accepted' }), fakeTrade({ state: 'Completed' })];
    const { user, section } = await openBackupSettings(backend);
    expect(section).toHaveTextContent(/identity, trades, chats, payment accounts and settings/);
    expect(section).toHaveTextContent(/opens only with your passphrase/);

    await user.type(within(section).getByLabelText('Save to (a folder or a new file)'), '/media/usb');
    await user.type(within(section).getByLabelText('Passphrase'), 'correct horse');
    await user.click(within(section).getByRole('button', { name: 'Export backup' }));

    const written = await within(section).findByTestId('backup-written');
    expect(written).toHaveTextContent(FILE);
    expect(written).toHaveTextContent('40 KiB');
    expect(written).toHaveTextContent('2 trades, 1 open');
    expect(written).toHaveTextContent(formatMadeAt(backend.now));
    expect(backend.callsOf('exportBackup')).toEqual([['/media/usb', 'correct horse']]);
    // The passphrase does not stay on screen.
    expect(within(section).getByLabelText('Passphrase')).toHaveValue('');
    expect(within(section).queryByRole('alert')).toBeNull();
  });

  it('shows a wrong passphrase and writes nothing', async () => {
    const backend = new FakeBackend({ state: 'unlocked', passphrase: 'correct horse' });
    const { user, section } = await openBackupSettings(backend);
    await user.type(within(section).getByLabelText('Save to (a folder or a new file)'), '/media/usb');
    await user.type(within(section).getByLabelText('Passphrase'), 'wrong horse');
    await user.click(within(section).getByRole('button', { name: 'Export backup' }));

    expect(await within(section).findByRole('alert')).toHaveTextContent(/Wrong passphrase/);
    expect(within(section).queryByTestId('backup-written')).toBeNull();
    expect(backend.exported).toEqual([]);
  });

  it('shows the core’s refusal of an existing file in its words', async () => {
    const backend = new FakeBackend({ state: 'unlocked', passphrase: 'correct horse' });
    backend.backupFiles.set(FILE, { passphrase: 'correct horse', summary: fakeBackupSummary() });
    const { user, section } = await openBackupSettings(backend);
    await user.type(within(section).getByLabelText('Save to (a folder or a new file)'), FILE);
    await user.type(within(section).getByLabelText('Passphrase'), 'correct horse');
    await user.click(within(section).getByRole('button', { name: 'Export backup' }));

    expect(await within(section).findByRole('alert')).toHaveTextContent(`${FILE} already exists: a backup never replaces a file`);
  });

  it('asks for the place and the passphrase before exporting', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    const { user, section } = await openBackupSettings(backend);
    await user.click(within(section).getByRole('button', { name: 'Export backup' }));

    const target = within(section).getByLabelText('Save to (a folder or a new file)');
    expect(target).toHaveAccessibleDescription(/Name a folder or a new file/);
    expect(target).toHaveFocus();
    expect(within(section).getByLabelText('Passphrase')).toHaveAccessibleDescription(/Enter your passphrase/);
    expect(backend.callsOf('exportBackup')).toHaveLength(0);
  });
});

describe('first run: restore from a backup file', () => {
  it('imports the backup, says what came back and opens the app unlocked', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    backend.backupFiles.set(FILE, {
      passphrase: 'old device pass',
      summary: fakeBackupSummary({ trades: 4, open_trades: 2, has_config: false }),
    });
    const { user } = await openRestoreBackup(backend);
    await user.type(screen.getByLabelText('Backup file'), `  ${FILE} `);
    await user.type(screen.getByLabelText('Passphrase'), 'old device pass');
    await user.click(screen.getByRole('button', { name: 'Restore backup' }));

    const restored = await screen.findByTestId('backup-restored');
    expect(restored).toHaveTextContent(FAKE_PEER_ID);
    expect(restored).toHaveTextContent('4 trades, 2 open');
    expect(screen.queryByTestId('settings-after-restart')).toBeNull();
    expect(backend.callsOf('importBackup')).toEqual([[FILE, 'old device pass']]);
    expect(backend.state).toBe('unlocked');

    await user.click(screen.getByRole('button', { name: 'Continue' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
  });

  it('says restored settings apply after a restart', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    backend.backupFiles.set(FILE, { passphrase: 'old device pass', summary: fakeBackupSummary({ has_config: true }) });
    const { user } = await openRestoreBackup(backend);
    await user.type(screen.getByLabelText('Backup file'), FILE);
    await user.type(screen.getByLabelText('Passphrase'), 'old device pass');
    await user.click(screen.getByRole('button', { name: 'Restore backup' }));

    expect(await screen.findByTestId('settings-after-restart')).toHaveTextContent(/apply after Souk restarts/);
  });

  it('shows a damaged file and stays on the screen', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    backend.backupFiles.set(FILE, {
      passphrase: 'old device pass',
      summary: fakeBackupSummary(),
      damaged: 'its checksum does not match',
    });
    const { user } = await openRestoreBackup(backend);
    await user.type(screen.getByLabelText('Backup file'), FILE);
    await user.type(screen.getByLabelText('Passphrase'), 'old device pass');
    await user.click(screen.getByRole('button', { name: 'Restore backup' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(/backup file is damaged or is not a Souk backup; nothing was changed/);
    expect(alert).toHaveTextContent(/its checksum does not match/);
    expect(backend.state).toBe('needs_setup');
    expect(screen.queryByRole('navigation')).toBeNull();
  });

  it('shows a wrong passphrase, and takes a corrected one', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    backend.backupFiles.set(FILE, { passphrase: 'old device pass', summary: fakeBackupSummary() });
    const { user } = await openRestoreBackup(backend);
    await user.type(screen.getByLabelText('Backup file'), FILE);
    await user.type(screen.getByLabelText('Passphrase'), 'new device pass');
    await user.click(screen.getByRole('button', { name: 'Restore backup' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(/Wrong passphrase/);

    await user.clear(screen.getByLabelText('Passphrase'));
    expect(screen.queryByRole('alert')).toBeNull();
    await user.type(screen.getByLabelText('Passphrase'), 'old device pass');
    await user.click(screen.getByRole('button', { name: 'Restore backup' }));
    expect(await screen.findByTestId('backup-restored')).toBeInTheDocument();
  });

  it('refuses a device that already holds an identity, in the core’s words', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    backend.backupFiles.set(FILE, { passphrase: 'old device pass', summary: fakeBackupSummary() });
    const { user } = await openRestoreBackup(backend);
    // Another window finished setup in the meantime.
    backend.state = 'locked';
    await user.type(screen.getByLabelText('Backup file'), FILE);
    await user.type(screen.getByLabelText('Passphrase'), 'old device pass');
    await user.click(screen.getByRole('button', { name: 'Restore backup' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(`${FAKE_DATA_DIR} already holds an identity`);
  });

  it('asks for the file and the passphrase, and can go back', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    const { user } = await openRestoreBackup(backend);
    await user.click(screen.getByRole('button', { name: 'Restore backup' }));
    expect(screen.getByLabelText('Backup file')).toHaveAccessibleDescription(/Enter the path of the backup file/);
    expect(screen.getByLabelText('Backup file')).toHaveFocus();
    expect(backend.callsOf('importBackup')).toHaveLength(0);

    await user.click(screen.getByRole('button', { name: 'Back' }));
    expect(screen.getByTestId('first-run')).toBeInTheDocument();
  });
});
