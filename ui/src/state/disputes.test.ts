import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import type { DisputeInfo } from '../bindings';
import { fakeDispute } from '../test/fakeBackend';
import { applyDisputeSignal, disputeKeys, storeDispute } from './disputes';

function client() {
  return new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
}

describe('applyDisputeSignal', () => {
  it('reads the list and that dispute again when a case arrives or a decision is made', () => {
    for (const kind of ['dispute_opened', 'dispute_resolved'] as const) {
      const qc = client();
      qc.setQueryData(disputeKeys.list, [fakeDispute({ trade_id: 'd' })]);
      qc.setQueryData(disputeKeys.detail('d'), fakeDispute({ trade_id: 'd' }));
      qc.setQueryData(disputeKeys.detail('other'), fakeDispute({ trade_id: 'other' }));
      applyDisputeSignal(qc, { kind, trade_id: 'd' });
      expect(qc.getQueryState(disputeKeys.list)?.isInvalidated).toBe(true);
      expect(qc.getQueryState(disputeKeys.detail('d'))?.isInvalidated).toBe(true);
      expect(qc.getQueryState(disputeKeys.detail('other'))?.isInvalidated).toBe(false);
    }
  });

  it('reads everything again on resync, and ignores trade signals', () => {
    const qc = client();
    qc.setQueryData(disputeKeys.list, []);
    qc.setQueryData(disputeKeys.detail('d'), fakeDispute({ trade_id: 'd' }));
    applyDisputeSignal(qc, { kind: 'read', trade_id: 'd', up_to: 3 });
    expect(qc.getQueryState(disputeKeys.list)?.isInvalidated).toBe(false);
    applyDisputeSignal(qc, { kind: 'resync' });
    expect(qc.getQueryState(disputeKeys.list)?.isInvalidated).toBe(true);
    expect(qc.getQueryState(disputeKeys.detail('d'))?.isInvalidated).toBe(true);
  });
});

describe('storeDispute', () => {
  it('puts a decided dispute in its own entry and in the list, in order', () => {
    const qc = client();
    const a = fakeDispute({ trade_id: 'a', opened_at: 5 });
    const b = fakeDispute({ trade_id: 'b', opened_at: 4 });
    qc.setQueryData(disputeKeys.list, [a, b]);
    storeDispute(qc, { ...a, resolved_to: 'buyer', resolved_at: 6 });
    expect(qc.getQueryData<DisputeInfo[]>(disputeKeys.list)?.map((d) => [d.trade_id, d.resolved_to])).toEqual([
      ['b', null],
      ['a', 'buyer'],
    ]);
    expect(qc.getQueryData<DisputeInfo>(disputeKeys.detail('a'))?.resolved_to).toBe('buyer');
  });

  it('leaves a list that was never loaded unloaded', () => {
    const qc = client();
    storeDispute(qc, fakeDispute({ trade_id: 'x' }));
    expect(qc.getQueryData(disputeKeys.list)).toBeUndefined();
    expect(qc.getQueryData(disputeKeys.detail('x'))).toBeDefined();
  });
});
