import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { useBackend } from '../backend/context';
import { isMarketSignal, isTradeSignal } from '../backend/types';
import { applyDisputeSignal } from './disputes';
import { applyMarketSignal } from './market';
import { applyTradeSignal } from './trades';

/** Keeps the market, trade and dispute caches live while the app frame is shown: one subscription for all. */
export function useNodeEvents(myPeerId: string): void {
  const backend = useBackend();
  const queryClient = useQueryClient();
  useEffect(
    () =>
      backend.subscribeEvents((signal) => {
        if (isMarketSignal(signal)) applyMarketSignal(queryClient, signal, myPeerId);
        if (isTradeSignal(signal)) {
          applyTradeSignal(queryClient, signal);
          applyDisputeSignal(queryClient, signal);
        }
      }),
    [backend, queryClient, myPeerId],
  );
}
