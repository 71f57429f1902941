/** The size of a backup file as a person reads it: bytes, KiB or MiB (as `souk backup export` prints it). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes.toString()} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024).toString()} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** "3 trades, 1 open": what a backup's database holds. */
export function tradesText(trades: number, open: number): string {
  return `${trades.toString()} ${trades === 1 ? 'trade' : 'trades'}, ${open.toString()} open`;
}

/** When a backup was made, in the user's time zone. */
export function formatMadeAt(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}
