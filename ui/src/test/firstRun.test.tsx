import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FAKE_PEER_ID, FAKE_WORDS, FakeBackend } from './fakeBackend';
import { askedWordIndices, fillPassphrases } from './helpers';
import { renderApp } from './renderApp';

async function openCreate() {
  const backend = new FakeBackend({ state: 'needs_setup' });
  const rendered = renderApp(backend);
  await rendered.user.click(await screen.findByRole('button', { name: /Create a new identity/ }));
  return { backend, ...rendered };
}

describe('first run', () => {
  it('shows the welcome screen with its three choices', async () => {
    renderApp(new FakeBackend({ state: 'needs_setup' }));
    const firstRun = await screen.findByTestId('first-run');
    expect(within(firstRun).getByRole('heading', { level: 1 })).toHaveTextContent('Welcome to Souk');
    expect(within(firstRun).getByRole('button', { name: /Create a new identity/ })).toBeInTheDocument();
    expect(within(firstRun).getByRole('button', { name: /Restore from seed words/ })).toBeInTheDocument();
    expect(within(firstRun).getByRole('button', { name: /Restore from a backup file/ })).toBeInTheDocument();
  });

  it('can go back from create to the welcome screen', async () => {
    const { user } = await openCreate();
    await user.click(screen.getByRole('button', { name: 'Back' }));
    expect(screen.getByTestId('first-run')).toBeInTheDocument();
  });
});

describe('create identity: passphrase validation', () => {
  it('rejects a passphrase that is too short', async () => {
    const { user, backend } = await openCreate();
    await fillPassphrases(user, 'short');
    await user.click(screen.getByRole('button', { name: 'Create identity' }));

    const field = screen.getByLabelText('Passphrase');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field).toHaveAccessibleDescription(/at least 8 characters/);
    expect(field).toHaveFocus();
    expect(backend.callsOf('createIdentity')).toHaveLength(0);
  });

  it('rejects a confirmation that does not match', async () => {
    const { user, backend } = await openCreate();
    await fillPassphrases(user, 'long enough one', 'long enough two');
    await user.click(screen.getByRole('button', { name: 'Create identity' }));

    const confirm = screen.getByLabelText('Confirm passphrase');
    expect(confirm).toHaveAttribute('aria-invalid', 'true');
    expect(confirm).toHaveAccessibleDescription('The passphrases do not match.');
    expect(screen.getByLabelText('Passphrase')).not.toHaveAttribute('aria-invalid');
    expect(backend.callsOf('createIdentity')).toHaveLength(0);
  });

  it('clears the message once the input is fixed', async () => {
    const { user } = await openCreate();
    await fillPassphrases(user, 'short');
    await user.click(screen.getByRole('button', { name: 'Create identity' }));
    expect(screen.getByText(/at least 8 characters/, { selector: '.field-error' })).toBeInTheDocument();

    await fillPassphrases(user, 'long enough now');
    expect(screen.queryByText(/at least 8 characters/, { selector: '.field-error' })).toBeNull();
  });
});

describe('create identity: seed words and confirmation', () => {
  async function createAndShowWords() {
    const rendered = await openCreate();
    await fillPassphrases(rendered.user, 'correct horse battery');
    await rendered.user.click(screen.getByRole('button', { name: 'Create identity' }));
    await screen.findByRole('heading', { name: 'Write down your seed words' });
    return rendered;
  }

  it('sends the passphrase and shows all words numbered, with the only-once warning', async () => {
    const { backend } = await createAndShowWords();
    expect(backend.callsOf('createIdentity')).toEqual([['correct horse battery', false]]);

    const grid = screen.getByRole('list', { name: 'Seed words' });
    const cells = within(grid).getAllByRole('listitem');
    expect(cells).toHaveLength(24);
    expect(cells[0]).toHaveTextContent('1.abandon');
    expect(cells[23]).toHaveTextContent('24.actual');
    expect(screen.getByText(/shown only once/)).toBeInTheDocument();
    expect(screen.getByText(/only backup/)).toBeInTheDocument();
  });

  it('requires acknowledging the backup before continuing', async () => {
    const { user } = await createAndShowWords();
    const next = screen.getByRole('button', { name: 'Continue' });
    expect(next).toBeDisabled();
    await user.click(screen.getByRole('checkbox', { name: /written down all 24 words/ }));
    expect(next).toBeEnabled();
  });

  it('rejects a wrong word, then accepts the right ones and opens the app', async () => {
    const { user } = await createAndShowWords();
    await user.click(screen.getByRole('checkbox', { name: /written down/ }));
    await user.click(screen.getByRole('button', { name: 'Continue' }));

    await screen.findByRole('heading', { name: 'Confirm your backup' });
    const indices = askedWordIndices();
    expect(indices).toHaveLength(3);
    expect(new Set(indices).size).toBe(3);
    // The words are no longer on screen.
    expect(screen.queryByRole('list', { name: 'Seed words' })).toBeNull();

    const [first, second, third] = indices.map((i) => screen.getByLabelText(`Word #${i + 1}`));
    if (!first || !second || !third) throw new Error('expected three fields');
    await user.type(first, FAKE_WORDS[indices[0] ?? 0] ?? '');
    await user.type(second, 'wrongword');
    await user.type(third, FAKE_WORDS[indices[2] ?? 0] ?? '');
    await user.click(screen.getByRole('button', { name: 'Confirm' }));

    expect(second).toHaveAttribute('aria-invalid', 'true');
    expect(second).toHaveAccessibleDescription(`That is not word #${(indices[1] ?? 0) + 1}. Check your written copy.`);
    expect(second).toHaveFocus();
    expect(first).not.toHaveAttribute('aria-invalid');
    expect(screen.queryByRole('navigation')).toBeNull();

    await user.clear(second);
    // Case and surrounding spaces do not matter.
    await user.type(second, ` ${(FAKE_WORDS[indices[1] ?? 0] ?? '').toUpperCase()} `);
    await user.click(screen.getByRole('button', { name: 'Confirm' }));

    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(screen.getByRole('banner')).toHaveTextContent('Souk');
    expect(screen.getByTestId('peer-id')).toHaveAttribute('title', FAKE_PEER_ID);
  });

  it('can go back from the confirmation to the words', async () => {
    const { user } = await createAndShowWords();
    await user.click(screen.getByRole('checkbox', { name: /written down/ }));
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    await user.click(await screen.findByRole('button', { name: 'Show the words again' }));
    expect(screen.getByRole('list', { name: 'Seed words' })).toBeInTheDocument();
  });

  it('shows an alert when creating fails', async () => {
    const backend = new FakeBackend({ state: 'needs_setup', failNext: { createIdentity: 'storage' } });
    const { user } = renderApp(backend);
    await user.click(await screen.findByRole('button', { name: /Create a new identity/ }));
    await fillPassphrases(user, 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Create identity' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Souk could not read or write its data. injected storage',
    );
  });
});
