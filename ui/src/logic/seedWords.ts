/** Seed phrase lengths defined by BIP-39. */
export const SEED_WORD_COUNTS = [12, 15, 18, 21, 24] as const;

/**
 * Splits pasted or typed seed words into a clean list: Unicode NFKD (as BIP-39
 * specifies), lower case, any whitespace or commas as separators, and list
 * numbering such as "1." or "(2)" dropped (seed words never contain digits).
 */
export function splitSeedWords(input: string): string[] {
  return input
    .normalize('NFKD')
    .toLowerCase()
    .split(/[\s,;]+/u)
    .filter((token) => token.length > 0)
    .filter((token) => !/^\(?\d+[.):]?$/u.test(token));
}

/** The form the Rust core expects: words separated by single spaces. */
export function normaliseSeedWords(input: string): string {
  return splitSeedWords(input).join(' ');
}

export function isExpectedWordCount(count: number): boolean {
  return (SEED_WORD_COUNTS as readonly number[]).includes(count);
}

/** Compares one typed word against the expected word, ignoring case and surrounding space. */
export function wordMatches(typed: string, expected: string): boolean {
  return typed.normalize('NFKD').trim().toLowerCase() === expected.normalize('NFKD').toLowerCase();
}
