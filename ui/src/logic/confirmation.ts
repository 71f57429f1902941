import { wordMatches } from './seedWords';

export const CONFIRMATION_WORDS = 3;

/** Returns a uniform random integer in [0, max). */
export type RandomInt = (max: number) => number;

export const cryptoRandomInt: RandomInt = (max) => {
  if (!Number.isInteger(max) || max <= 0) throw new RangeError('max must be a positive integer');
  // Rejection sampling avoids modulo bias.
  const limit = Math.floor(0x1_0000_0000 / max) * max;
  const buffer = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buffer);
    const value = buffer[0] ?? 0;
    if (value < limit) return value % max;
  }
};

/**
 * Picks `count` distinct zero-based word positions in ascending order, so the
 * user is asked e.g. for words #4, #11 and #19.
 */
export function chooseConfirmationIndices(
  wordCount: number,
  count: number = CONFIRMATION_WORDS,
  randomInt: RandomInt = cryptoRandomInt,
): number[] {
  if (wordCount <= 0) return [];
  const wanted = Math.min(count, wordCount);
  // Partial Fisher-Yates shuffle over the positions.
  const positions = Array.from({ length: wordCount }, (_, i) => i);
  for (let i = 0; i < wanted; i += 1) {
    const j = i + randomInt(wordCount - i);
    const a = positions[i] as number;
    positions[i] = positions[j] as number;
    positions[j] = a;
  }
  return positions.slice(0, wanted).sort((a, b) => a - b);
}

/** For each asked position: true when the typed answer matches the word there. */
export function checkConfirmation(
  words: readonly string[],
  indices: readonly number[],
  answers: readonly string[],
): boolean[] {
  return indices.map((index, i) => {
    const expected = words[index];
    return expected !== undefined && wordMatches(answers[i] ?? '', expected);
  });
}
