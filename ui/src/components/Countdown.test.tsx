import { act, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Countdown } from './Countdown';

describe('Countdown', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T12:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks every second and says when the deadline passed', () => {
    const deadline = Date.now() + 62_000;
    render(<Countdown deadline={deadline} label="Payment deadline" />);
    const timer = screen.getByRole('timer');
    expect(timer).toHaveTextContent('1 min 02 s left');
    expect(screen.getByTestId('countdown')).toHaveTextContent(/^Payment deadline: 1 min 02 s left/);
    act(() => {
      vi.advanceTimersByTime(3_000);
    });
    expect(timer).toHaveTextContent('59 s left');
    act(() => {
      vi.advanceTimersByTime(60_000);
    });
    expect(timer).toHaveTextContent('passed');
    expect(screen.getByTestId('countdown')).toHaveClass('countdown--passed');
  });
});
