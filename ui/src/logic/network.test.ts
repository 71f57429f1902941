import { describe, expect, it } from 'vitest';
import { refusalsText } from './network';

describe('refusalsText', () => {
  const none = { takes: 0, envelopes: 0, chat_messages: 0, takes_expired: 0, recovery_copies: 0, peers_ignored: 0 };

  it('says nothing was refused when nothing was', () => {
    expect(refusalsText(none)).toBe('nothing');
  });

  it('names each kind refused, singular or plural', () => {
    expect(refusalsText({ ...none, takes: 1, chat_messages: 12, peers_ignored: 2 })).toBe(
      '1 take, 12 chat messages over the limits, 2 peers ignored for bad gossip',
    );
    expect(refusalsText({ ...none, takes_expired: 1, envelopes: 3 })).toBe(
      '1 unanswered take expired, 3 trade messages',
    );
    expect(refusalsText({ ...none, recovery_copies: 2 })).toBe('2 recovery copies that were not this node’s');
  });
});
