import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FAKE_PEER_ID, FAKE_WORDS, FakeBackend } from './fakeBackend';
import { fillPassphrases } from './helpers';
import { renderApp } from './renderApp';

async function open(step: RegExp, backend = new FakeBackend({ state: 'needs_setup' })) {
  const rendered = renderApp(backend);
  await rendered.user.click(await screen.findByRole('button', { name: step }));
  return { backend, ...rendered };
}

function torBox() {
  return screen.getByRole('checkbox', { name: /Connect only through Tor/ });
}

describe('first run: Tor mode', () => {
  it('is offered when creating, off by default, and says what it means', async () => {
    const { user, backend } = await open(/Create a new identity/);
    expect(torBox()).not.toBeChecked();
    expect(torBox()).toHaveAccessibleDescription(/Hides your IP address/);
    expect(torBox()).toHaveAccessibleDescription(/apt install tor/);
    expect(torBox()).toHaveAccessibleDescription(/change this later in Settings/);

    await fillPassphrases(user, 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Create identity' }));
    await screen.findByRole('heading', { name: 'Write down your seed words' });
    expect(backend.callsOf('createIdentity')).toEqual([['correct horse battery', false]]);
  });

  it('sends tor: true when ticked, and the node runs in Tor mode from this first start', async () => {
    const { user, backend } = await open(/Create a new identity/);
    await user.click(torBox());
    await fillPassphrases(user, 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Create identity' }));

    await screen.findByRole('heading', { name: 'Write down your seed words' });
    expect(backend.callsOf('createIdentity')).toEqual([['correct horse battery', true]]);
    expect(backend.connection.running.tor).toBe(true);
  });

  it('is offered when restoring from seed words and sent with them', async () => {
    const { user, backend } = await open(/Restore from seed words/);
    expect(torBox()).not.toBeChecked();
    await user.click(torBox());
    await user.type(screen.getByLabelText('Seed words'), FAKE_WORDS.join(' '));
    await fillPassphrases(user, 'new device pass');
    await user.click(screen.getByRole('button', { name: 'Restore identity' }));

    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(backend.callsOf('restoreIdentity')).toEqual([[FAKE_WORDS.join(' '), 'new device pass', true]]);
  });

  it('says why Tor mode is refused with clearnet bootstrap peers, and sets up without it', async () => {
    const backend = new FakeBackend({ state: 'needs_setup' });
    const clear = `/ip4/192.0.2.7/tcp/4001/p2p/${FAKE_PEER_ID}`;
    backend.connection = {
      ...backend.connection,
      saved: { ...backend.connection.saved, bootstrap: [clear] },
    };
    const { user } = await open(/Create a new identity/, backend);
    await user.click(torBox());
    await fillPassphrases(user, 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Create identity' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Tor mode cannot be used with these settings');
    expect(alert).toHaveTextContent(clear);
    expect(alert).toHaveTextContent('Leave “Connect only through Tor” off');
    expect(screen.queryByRole('heading', { name: 'Write down your seed words' })).toBeNull();

    await user.click(torBox());
    await user.click(screen.getByRole('button', { name: 'Create identity' }));
    await screen.findByRole('heading', { name: 'Write down your seed words' });
    expect(backend.callsOf('createIdentity')).toEqual([
      ['correct horse battery', true],
      ['correct horse battery', false],
    ]);
    expect(backend.connection.saved.tor).toBe(false);
  });
});
