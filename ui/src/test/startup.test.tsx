import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FakeBackend } from './fakeBackend';
import { renderApp } from './renderApp';

describe('startup', () => {
  it('explains what to do when no backend is available', () => {
    renderApp(null);
    expect(screen.getByTestId('no-backend')).toHaveTextContent(
      'This page has no connection to a Souk node. Run souk serve and open the address it prints',
    );
    expect(screen.getByText('souk serve').tagName).toBe('CODE');
  });

  it('shows a progress message while asking for the status', () => {
    renderApp(new FakeBackend());
    expect(screen.getByRole('status')).toHaveTextContent('Starting Souk');
  });

  it('shows the error and retries when the status cannot be read', async () => {
    const backend = new FakeBackend({ state: 'locked', failNext: { appStatus: 'newer_schema' } });
    const { user } = renderApp(backend);
    expect(await screen.findByRole('alert')).toHaveTextContent('newer version of Souk');
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('heading', { name: 'Unlock Souk' })).toBeInTheDocument();
  });
});
