import { describe, expect, it } from 'vitest';
import { abbreviatePeerId } from './peerId';

describe('abbreviatePeerId', () => {
  it('keeps head and tail of a long id', () => {
    const id = '12D3KooWGzBd5Xx9FvP3s7y1hQ2mK8nT4cR6wE5uJ1aL9bZpVq3';
    expect(abbreviatePeerId(id)).toBe('12D3KooWGzBd…bZpVq3');
  });

  it('leaves short ids untouched', () => {
    expect(abbreviatePeerId('short-id')).toBe('short-id');
  });
});
