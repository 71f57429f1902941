import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FAKE_WORDS, FakeBackend } from './fakeBackend';
import { fillPassphrases } from './helpers';
import { renderApp } from './renderApp';

async function openRestore(backend: FakeBackend) {
  const rendered = renderApp(backend);
  await rendered.user.click(await screen.findByRole('button', { name: /Restore from seed words/ }));
  return rendered;
}

describe('restore identity', () => {
  it('normalises the words before sending them and opens the app', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    const { user } = await openRestore(backend);
    expect(screen.getByTestId('restore-trades-note')).toHaveTextContent(
      'Open escrow trades come back by themselves once you are online',
    );

    // Mixed case, numbering, line breaks and extra spaces, as if pasted from a note.
    const messy = FAKE_WORDS.map((word, i) => `${i + 1}. ${i % 2 ? word.toUpperCase() : word}`)
      .join(' \n\t ')
      .concat('\n\n');
    await user.click(screen.getByLabelText('Seed words'));
    await user.paste(messy);
    await fillPassphrases(user, 'new device pass');
    await user.click(screen.getByRole('button', { name: 'Restore identity' }));

    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(backend.callsOf('restoreIdentity')).toEqual([[FAKE_WORDS.join(' '), 'new device pass', false]]);
  });

  it('shows an alert for invalid seed words', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    const { user } = await openRestore(backend);
    await user.type(screen.getByLabelText('Seed words'), 'abandon abandon zoo');
    await fillPassphrases(user, 'new device pass');
    await user.click(screen.getByRole('button', { name: 'Restore identity' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(/seed words are not valid/);
    expect(backend.callsOf('restoreIdentity')).toEqual([['abandon abandon zoo', 'new device pass', false]]);
    expect(screen.queryByRole('navigation')).toBeNull();
  });

  it('offers to go to unlock when an identity already exists', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    const { user } = await openRestore(backend);
    // Another window finished setup in the meantime.
    backend.state = 'locked';
    await user.type(screen.getByLabelText('Seed words'), FAKE_WORDS.join(' '));
    await fillPassphrases(user, 'new device pass');
    await user.click(screen.getByRole('button', { name: 'Restore identity' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(/already exists/);
    await user.click(screen.getByRole('button', { name: 'Go to unlock' }));
    expect(await screen.findByRole('heading', { name: 'Unlock Souk' })).toBeInTheDocument();
  });

  it('asks for the words and validates the passphrase before sending', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    const { user } = await openRestore(backend);
    await fillPassphrases(user, 'short', 'other');
    await user.click(screen.getByRole('button', { name: 'Restore identity' }));

    expect(screen.getByLabelText('Seed words')).toHaveAccessibleDescription(/Enter your seed words/);
    expect(screen.getByLabelText('Seed words')).toHaveFocus();
    expect(screen.getByLabelText('Passphrase')).toHaveAccessibleDescription(/at least 8 characters/);
    expect(screen.getByLabelText('Confirm passphrase')).toHaveAccessibleDescription(/do not match/);
    expect(backend.callsOf('restoreIdentity')).toHaveLength(0);
  });
});
