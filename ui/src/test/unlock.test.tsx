import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FAKE_PEER_ID, FakeBackend } from './fakeBackend';
import { renderApp } from './renderApp';

describe('unlock', () => {
  it('shows the PeerId being unlocked', async () => {
    renderApp(new FakeBackend({ state: 'locked' }));
    expect(await screen.findByRole('heading', { name: 'Unlock Souk' })).toBeInTheDocument();
    expect(screen.getByText(FAKE_PEER_ID)).toBeInTheDocument();
  });

  it('shows a wrong-passphrase alert and lets the user retry', async () => {
    const backend = new FakeBackend({ state: 'locked', passphrase: 'the right one' });
    const { user } = renderApp(backend);
    const field = await screen.findByLabelText('Passphrase');

    await user.type(field, 'the wrong one');
    await user.click(screen.getByRole('button', { name: 'Unlock' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Wrong passphrase');
    expect(field).toHaveFocus();

    // Typing again clears the alert.
    await user.clear(field);
    expect(screen.queryByRole('alert')).toBeNull();

    await user.type(field, 'the right one{Enter}');
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(backend.callsOf('unlock')).toEqual([['the wrong one'], ['the right one']]);
  });

  it('asks for a passphrase instead of sending an empty one', async () => {
    const backend = new FakeBackend({ state: 'locked' });
    const { user } = renderApp(backend);
    await user.click(await screen.findByRole('button', { name: 'Unlock' }));
    expect(screen.getByLabelText('Passphrase')).toHaveAccessibleDescription('Enter your passphrase.');
    expect(backend.callsOf('unlock')).toHaveLength(0);
  });
});
