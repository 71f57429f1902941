import { describe, expect, it } from 'vitest';
import { PEER_NAME_VECTORS } from '../bindings';
import { peerAvatar, peerHash, peerName } from './peerName';

describe('peer names', () => {
  it('are the ones the core gives (its test vectors)', () => {
    expect(PEER_NAME_VECTORS.length).toBeGreaterThan(2);
    for (const vector of PEER_NAME_VECTORS) {
      expect(peerHash(vector.peer_id).toString(16).padStart(16, '0')).toBe(vector.hash);
      expect(peerName(vector.peer_id)).toBe(vector.name);
      expect(peerAvatar(vector.peer_id)).toEqual(vector.avatar);
    }
  });

  it('ignore surrounding whitespace and tell different peers apart', () => {
    const [first, second] = PEER_NAME_VECTORS;
    if (!first || !second) throw new Error('the core gives at least two vectors');
    const id = first.peer_id;
    expect(peerName(` ${id}\n`)).toBe(peerName(id));
    expect(peerName(second.peer_id)).not.toBe(peerName(id));
    expect(peerName(id)).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+ \d{2}$/);
  });
});
