import { describe, expect, it } from 'vitest';
import { isExpectedWordCount, normaliseSeedWords, splitSeedWords, wordMatches } from './seedWords';

describe('normaliseSeedWords', () => {
  it('collapses whitespace and lower-cases', () => {
    expect(normaliseSeedWords('  Abandon\tABILITY\n\n able  ')).toBe('abandon ability able');
  });

  it('accepts commas and semicolons as separators', () => {
    expect(normaliseSeedWords('abandon, ability;able')).toBe('abandon ability able');
  });

  it('drops list numbering copied with the words', () => {
    expect(normaliseSeedWords('1. abandon 2) ability (3) able 4: about 5 above')).toBe(
      'abandon ability able about above',
    );
  });

  it('applies NFKD normalisation', () => {
    // "é" as one code point becomes "e" + combining accent.
    expect(normaliseSeedWords('\u00e9cole')).toBe('e\u0301cole');
  });

  it('returns an empty string for blank input', () => {
    expect(normaliseSeedWords(' \n\t ')).toBe('');
    expect(splitSeedWords('')).toEqual([]);
  });
});

describe('isExpectedWordCount', () => {
  it('knows the BIP-39 lengths', () => {
    expect(isExpectedWordCount(12)).toBe(true);
    expect(isExpectedWordCount(24)).toBe(true);
    expect(isExpectedWordCount(13)).toBe(false);
    expect(isExpectedWordCount(0)).toBe(false);
  });
});

describe('wordMatches', () => {
  it('ignores case and surrounding whitespace', () => {
    expect(wordMatches('  Ability ', 'ability')).toBe(true);
    expect(wordMatches('abilty', 'ability')).toBe(false);
    expect(wordMatches('', 'ability')).toBe(false);
  });
});
