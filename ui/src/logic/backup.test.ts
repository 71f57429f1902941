import { describe, expect, it } from 'vitest';
import { formatSize, tradesText } from './backup';

describe('backup summary wording', () => {
  it('gives sizes in bytes, KiB or MiB', () => {
    expect(formatSize(512)).toBe('512 bytes');
    expect(formatSize(40_960)).toBe('40 KiB');
    expect(formatSize(1_048_575)).toBe('1024 KiB');
    expect(formatSize(3 * 1_048_576 + 300_000)).toBe('3.3 MiB');
  });

  it('counts trades and open ones', () => {
    expect(tradesText(1, 1)).toBe('1 trade, 1 open');
    expect(tradesText(0, 0)).toBe('0 trades, 0 open');
    expect(tradesText(12, 3)).toBe('12 trades, 3 open');
  });
});
