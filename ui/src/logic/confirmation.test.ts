import { describe, expect, it } from 'vitest';
import { checkConfirmation, chooseConfirmationIndices, cryptoRandomInt } from './confirmation';

describe('chooseConfirmationIndices', () => {
  it('returns three distinct ascending positions within range', () => {
    for (let run = 0; run < 200; run += 1) {
      const indices = chooseConfirmationIndices(24);
      expect(indices).toHaveLength(3);
      expect(new Set(indices).size).toBe(3);
      expect([...indices].sort((a, b) => a - b)).toEqual(indices);
      for (const index of indices) {
        expect(index).toBeGreaterThanOrEqual(0);
        expect(index).toBeLessThan(24);
      }
    }
  });

  it('is driven by the injected random source', () => {
    // Always picking the first remaining position yields 0, 1, 2.
    expect(chooseConfirmationIndices(12, 3, () => 0)).toEqual([0, 1, 2]);
    // Always picking the last remaining position: swap 0<->11, 1<->11(=0), ...
    const last = chooseConfirmationIndices(12, 3, (max) => max - 1);
    expect(new Set(last).size).toBe(3);
  });

  it('never asks for more words than exist', () => {
    expect(chooseConfirmationIndices(2, 3)).toEqual([0, 1]);
    expect(chooseConfirmationIndices(0, 3)).toEqual([]);
  });

  it('eventually covers every position', () => {
    const seen = new Set<number>();
    for (let run = 0; run < 500; run += 1) {
      for (const index of chooseConfirmationIndices(12)) seen.add(index);
    }
    expect(seen.size).toBe(12);
  });
});

describe('cryptoRandomInt', () => {
  it('stays in range and rejects bad bounds', () => {
    for (let i = 0; i < 100; i += 1) {
      const value = cryptoRandomInt(7);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(7);
    }
    expect(() => cryptoRandomInt(0)).toThrow(RangeError);
  });
});

describe('checkConfirmation', () => {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

  it('marks each answer right or wrong', () => {
    expect(checkConfirmation(words, [0, 2, 4], ['alpha', 'CHARLIE ', 'delta'])).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('treats missing answers and out-of-range positions as wrong', () => {
    expect(checkConfirmation(words, [1, 9], ['bravo'])).toEqual([true, false]);
  });
});
