import { formatCountdown } from '../logic/trades';
import { useNow } from './useNow';

interface CountdownProps {
  /** Unix ms. */
  deadline: number;
  /** What runs out, e.g. "Funding deadline". */
  label: string;
}

/**
 * Time left until a deadline, ticking every second. The text has a fixed width (tabular figures) so
 * the ticking never moves what is around it; the absolute time stays readable for screen readers.
 */
export function Countdown({ deadline, label }: CountdownProps) {
  const now = useNow(1_000);
  const left = formatCountdown(deadline - now);
  const at = new Date(deadline).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <p className={`countdown${left === null ? ' countdown--passed' : ''}`} data-testid="countdown">
      <span className="countdown-label">{label}:</span>{' '}
      <span role="timer" className="countdown-left">
        {left === null ? 'passed' : `${left} left`}
      </span>{' '}
      <span className="muted">({at})</span>
    </p>
  );
}
