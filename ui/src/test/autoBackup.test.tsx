import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { autoBackupState, keepProblem } from '../screens/settings/AutoBackupSection';
import { FakeBackend } from './fakeBackend';
import { renderApp } from './renderApp';

async function openSettings(backend = new FakeBackend({ state: 'unlocked' })) {
  const rendered = renderApp(backend);
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  await rendered.user.click(within(nav).getByRole('button', { name: 'Settings' }));
  const region = await screen.findByRole('region', { name: 'Automatic backups' });
  await within(region).findByTestId('auto-backup-state');
  return { backend, region, ...rendered };
}

describe('Settings: automatic backups', () => {
  it('turns automatic backups on with a folder, the number kept and the passphrase, then off', async () => {
    const { backend, region, user } = await openSettings();
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent('Off: backups are made only when you export one.');
    const form = within(region).getByRole('form', { name: 'Automatic backups' });
    await user.type(within(form).getByLabelText('Folder'), '/media/usb/souk');
    await user.clear(within(form).getByLabelText('Backups to keep'));
    await user.type(within(form).getByLabelText('Backups to keep'), '3');
    await user.type(within(form).getByLabelText('Passphrase'), 'correct horse');
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(await within(region).findByText('Automatic backups on.')).toBeInTheDocument();
    expect(backend.callsOf('saveBackupSettings')).toEqual([['/media/usb/souk', 3, 'correct horse']]);
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent(
      'On: a backup goes to /media/usb/souk after each trade step, the newest 3 kept.',
    );
    expect(within(form).getByLabelText('Passphrase')).toHaveValue('');

    await user.click(within(form).getByRole('button', { name: 'Turn off' }));
    expect(await within(region).findByText('Automatic backups turned off.')).toBeInTheDocument();
    expect(backend.callsOf('saveBackupSettings')[1]).toEqual(['', 3, '']);
    expect(backend.backupConfig.folder).toBeNull();
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent('Off');
  });

  it('shows the core’s refusal of a wrong passphrase and changes nothing', async () => {
    const { backend, region, user } = await openSettings();
    const before = structuredClone(backend.backupConfig);
    const form = within(region).getByRole('form', { name: 'Automatic backups' });
    await user.type(within(form).getByLabelText('Folder'), '/media/usb/souk');
    await user.type(within(form).getByLabelText('Passphrase'), 'not it');
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(await within(region).findByRole('alert')).toHaveTextContent('Wrong passphrase. Check it and try again.');
    expect(backend.callsOf('saveBackupSettings')).toEqual([['/media/usb/souk', 5, 'not it']]);
    expect(backend.backupConfig).toEqual(before);
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent('Off');
    expect(within(form).queryByRole('button', { name: 'Turn off' })).not.toBeInTheDocument();
    expect(within(form).getByLabelText('Folder')).toHaveValue('/media/usb/souk');
    expect(within(form).getByLabelText('Passphrase')).toHaveValue('');
    expect(within(region).getByRole('status')).toHaveTextContent('');
  });

  it('shows the core’s own words when it refuses the folder', async () => {
    const { backend, region, user } = await openSettings();
    const form = within(region).getByRole('form', { name: 'Automatic backups' });
    await user.type(within(form).getByLabelText('Folder'), 'media/usb');
    await user.type(within(form).getByLabelText('Passphrase'), 'correct horse');
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(await within(region).findByRole('alert')).toHaveTextContent(
      'Media/usb is not an absolute path: name the folder from the root (/media/usb/souk)',
    );
    expect(backend.backupConfig.folder).toBeNull();
    expect(within(form).getByLabelText('Passphrase')).toHaveValue('');
  });

  it('turns them off with Save and an emptied folder, with no passphrase', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.backupConfig = { folder: '/media/usb/souk', keep: 5, running: true, overridden_by: [] };
    const { region, user } = await openSettings(backend);
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent(
      'On: a backup goes to /media/usb/souk after each trade step, the newest 5 kept.',
    );
    expect(within(region).queryByTestId('auto-backup-override')).not.toBeInTheDocument();
    const form = within(region).getByRole('form', { name: 'Automatic backups' });
    expect(within(form).getByLabelText('Folder')).toHaveValue('/media/usb/souk');
    await user.clear(within(form).getByLabelText('Folder'));
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(await within(region).findByText('Automatic backups turned off.')).toBeInTheDocument();
    expect(backend.callsOf('saveBackupSettings')).toEqual([['', 5, '']]);
    expect(backend.backupConfig).toEqual({ folder: null, keep: 5, running: false, overridden_by: [] });
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent('Off');
    expect(within(form).queryByRole('button', { name: 'Turn off' })).not.toBeInTheDocument();
  });

  it('asks for the passphrase and a keep of 1 to 100 before sending anything', async () => {
    const { backend, region, user } = await openSettings();
    const form = within(region).getByRole('form', { name: 'Automatic backups' });
    const keep = within(form).getByLabelText('Backups to keep');
    expect(keep).toHaveValue('5');
    await user.type(within(form).getByLabelText('Folder'), '/media/usb/souk');
    await user.clear(keep);
    await user.type(keep, '0');
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(keep).toHaveAttribute('aria-invalid', 'true');
    expect(keep).toHaveAccessibleDescription(expect.stringContaining('Keep 1 to 100 backups.'));
    expect(within(form).getByLabelText('Passphrase')).toHaveAttribute('aria-invalid', 'true');
    expect(within(form).getByText('Enter your passphrase: it seals the backups.')).toBeInTheDocument();
    expect(keep).toHaveFocus();

    await user.type(within(form).getByLabelText('Passphrase'), 'correct horse');
    await user.clear(keep);
    await user.type(keep, '101');
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(keep).toHaveAttribute('aria-invalid', 'true');
    expect(within(form).getByLabelText('Passphrase')).not.toHaveAttribute('aria-invalid');
    expect(backend.callsOf('saveBackupSettings')).toHaveLength(0);

    await user.clear(keep);
    await user.type(keep, '100');
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(await within(region).findByText('Automatic backups on.')).toBeInTheDocument();
    expect(backend.callsOf('saveBackupSettings')).toEqual([['/media/usb/souk', 100, 'correct horse']]);
  });

  it('says when the backups do not run yet', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.backupConfig = { folder: '/srv/b', keep: 5, running: false, overridden_by: [] };
    const { region } = await openSettings(backend);
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent(
      'On: a backup goes to /srv/b after each trade step, the newest 5 kept (from the next unlock).',
    );
  });

  it('says when the environment overrides the saved folder', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.backupConfig = { folder: '/srv/b', keep: 2, running: true, overridden_by: ['SOUK_BACKUP_FOLDER'] };
    const { region } = await openSettings(backend);
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent(
      'On: a backup goes to /srv/b after each trade step, the newest 2 kept.',
    );
    expect(within(region).getByTestId('auto-backup-override')).toHaveTextContent(
      'SOUK_BACKUP_FOLDER is set in the environment: it overrides this at the next start.',
    );
  });

  it('names every overriding variable', async () => {
    const backend = new FakeBackend({ state: 'unlocked' });
    backend.backupConfig = {
      folder: null,
      keep: 5,
      running: false,
      overridden_by: ['SOUK_BACKUP_FOLDER', 'SOUK_BACKUP_KEEP'],
    };
    const { region } = await openSettings(backend);
    expect(within(region).getByTestId('auto-backup-state')).toHaveTextContent('Off');
    expect(within(region).getByTestId('auto-backup-override')).toHaveTextContent(
      'SOUK_BACKUP_FOLDER and SOUK_BACKUP_KEEP are set in the environment: they override this at the next start.',
    );
  });
});

describe('automatic backup wording', () => {
  it('reads the state and checks keep', () => {
    expect(autoBackupState({ folder: '/b', keep: 1, running: false, overridden_by: [] })).toBe(
      'On: a backup goes to /b after each trade step, only the newest kept (from the next unlock).',
    );
    expect(keepProblem('5')).toBeUndefined();
    expect(keepProblem('101')).toBe('Keep 1 to 100 backups.');
    expect(keepProblem('2.5')).toBe('Keep 1 to 100 backups.');
  });
});
