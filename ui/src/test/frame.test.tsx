import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FAKE_DATA_DIR, FAKE_PEER_ID, FakeBackend } from './fakeBackend';
import { renderApp } from './renderApp';

async function openFrame() {
  const rendered = renderApp(new FakeBackend({ state: 'unlocked' }));
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  return { nav, ...rendered };
}

describe('app frame', () => {
  it('shows Souk and the abbreviated PeerId with the full id in its title', async () => {
    await openFrame();
    const banner = screen.getByRole('banner');
    expect(within(banner).getByText('Souk')).toBeInTheDocument();
    const peerId = within(banner).getByTestId('peer-id');
    expect(peerId).toHaveAttribute('title', FAKE_PEER_ID);
    expect(peerId.querySelector('[aria-hidden="true"]')?.textContent).toMatch(/^12D3KooWFake…/);
    // Screen readers get the whole id.
    expect(within(peerId).getByText(FAKE_PEER_ID)).toHaveClass('visually-hidden');
  });

  it('copies the full PeerId', async () => {
    const { user } = await openFrame();
    const banner = screen.getByRole('banner');
    await user.click(within(banner).getByRole('button', { name: 'Copy Peer ID' }));
    await expect(navigator.clipboard.readText()).resolves.toBe(FAKE_PEER_ID);
    expect(within(banner).getByRole('status')).toHaveTextContent('Copied to clipboard');
  });

  it('starts on Market with an empty book that says so', async () => {
    const { nav } = await openFrame();
    expect(within(nav).getByRole('button', { name: 'Market' })).toHaveAttribute('aria-current', 'page');
    expect(screen.getByRole('heading', { level: 1, name: 'Market' })).toBeInTheDocument();
    expect(await screen.findByText('Nobody sells BTC for EUR yet.')).toBeInTheDocument();
    expect(screen.getByText('Nobody buys BTC for EUR yet.')).toBeInTheDocument();
  });

  it('switches screens and moves aria-current', async () => {
    const { user, nav } = await openFrame();
    const expected: [string, string][] = [
      ['My offers', 'You have no offers'],
      ['Post offer', 'Preview'],
      ['Trades', 'No trades yet'],
      ['Network', 'Connected peers'],
      ['Market', 'Nobody sells BTC for EUR yet.'],
    ];
    for (const [label, shownText] of expected) {
      await user.click(within(nav).getByRole('button', { name: label }));
      expect(screen.getByRole('heading', { level: 1, name: label })).toBeInTheDocument();
      expect(await screen.findByText(shownText)).toBeInTheDocument();
      const current = within(nav)
        .getAllByRole('button')
        .filter((button) => button.getAttribute('aria-current') === 'page');
      expect(current.map((button) => button.textContent)).toEqual([label]);
    }
  });

  it('is keyboard navigable', async () => {
    const { user, nav } = await openFrame();
    within(nav).getByRole('button', { name: 'Market' }).focus();
    await user.tab();
    expect(within(nav).getByRole('button', { name: 'Post offer' })).toHaveFocus();
    await user.tab();
    expect(within(nav).getByRole('button', { name: 'My offers' })).toHaveFocus();
    await user.tab();
    await user.tab();
    await user.tab();
    expect(within(nav).getByRole('button', { name: 'Settings' })).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(within(nav).getByRole('button', { name: 'Settings' })).toHaveAttribute('aria-current', 'page');
  });

  it('shows Disputes only to an arbitrator, between Trades and Network', async () => {
    const labels = (nav: HTMLElement) => within(nav).getAllByRole('button').map((b) => b.textContent);
    const { nav, unmount } = await openFrame();
    expect(labels(nav)).toEqual(['Market', 'Post offer', 'My offers', 'Trades', 'Network', 'Settings']);
    unmount();
    renderApp(new FakeBackend({ state: 'unlocked', arbitrator: true }));
    const arbitratorNav = await screen.findByRole('navigation', { name: 'Main' });
    expect(labels(arbitratorNav)).toEqual(['Market', 'Post offer', 'My offers', 'Trades', 'Disputes', 'Network', 'Settings']);
  });

  it('shows data folder and schema version in Settings', async () => {
    const { user, nav } = await openFrame();
    await user.click(within(nav).getByRole('button', { name: 'Settings' }));
    const main = screen.getByRole('main');
    expect(within(main).getByText(FAKE_DATA_DIR)).toBeInTheDocument();
    expect(within(main).getByText('Schema version').nextElementSibling).toHaveTextContent('3');
    expect(within(main).getByText(FAKE_PEER_ID)).toBeInTheDocument();
  });
});
