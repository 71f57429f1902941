import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import { useBackend } from '../backend/context';
import { BackendError } from '../backend/errors';
import type { TakeRequest, TradeSignal } from '../backend/types';
import type { ChatMessage, TradeAnswer, TradeInfo } from '../bindings';
import { markDelivered, markRead, orderChat, upsertMessage, upsertTrade } from '../logic/trades';

export const tradeKeys = {
  all: ['trades'] as const,
  list: ['trades', 'list'] as const,
  details: ['trades', 'detail'] as const,
  detail: (id: string) => ['trades', 'detail', id] as const,
  chats: ['trades', 'chat'] as const,
  chat: (id: string) => ['trades', 'chat', id] as const,
};

async function asBackendCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

export function useTrades() {
  const backend = useBackend();
  return useQuery({
    queryKey: tradeKeys.list,
    queryFn: () => asBackendCall(backend.trades()),
  });
}

export function useTrade(id: string) {
  const backend = useBackend();
  return useQuery({
    queryKey: tradeKeys.detail(id),
    queryFn: () => asBackendCall(backend.trade(id)),
  });
}

export function useChatLog(id: string) {
  const backend = useBackend();
  return useQuery({
    queryKey: tradeKeys.chat(id),
    queryFn: async () => orderChat(await asBackendCall(backend.chatLog(id))),
  });
}

/** Stores a trade the core returned, in the list and as its own entry. */
export function storeTrade(queryClient: QueryClient, trade: TradeInfo): void {
  queryClient.setQueryData<TradeInfo[]>(tradeKeys.list, (trades) => (trades ? upsertTrade(trades, trade) : trades));
  queryClient.setQueryData<TradeInfo>(tradeKeys.detail(trade.id), (previous) =>
    // Events can arrive out of order with a mutation's answer: never go back to an older view.
    previous && previous.updated_at > trade.updated_at ? previous : trade,
  );
}

function storeMessage(queryClient: QueryClient, message: ChatMessage): void {
  queryClient.setQueryData<ChatMessage[]>(tradeKeys.chat(message.trade_id), (log) =>
    log ? upsertMessage(log, message) : log,
  );
}

/**
 * Applies one trade signal to the cache: a new, changed or recovered trade replaces its entry in the list
 * and its own; a chat message joins its log in order (an incoming one also changes the unread count, so the
 * trade is read again); delivery and read receipts mark outgoing messages up to a sequence number;
 * a resync reads every trade and chat again.
 */
export function applyTradeSignal(queryClient: QueryClient, signal: TradeSignal, nowMs: number = Date.now()): void {
  switch (signal.kind) {
    case 'take_requested':
    case 'trade_updated':
    case 'recovered':
      storeTrade(queryClient, signal.trade);
      return;
    case 'message':
      storeMessage(queryClient, signal.message);
      if (!signal.message.outgoing) {
        void queryClient.invalidateQueries({ queryKey: tradeKeys.list });
        void queryClient.invalidateQueries({ queryKey: tradeKeys.detail(signal.message.trade_id) });
      }
      return;
    case 'delivered':
      queryClient.setQueryData<ChatMessage[]>(tradeKeys.chat(signal.trade_id), (log) =>
        log ? markDelivered(log, signal.up_to, nowMs) : log,
      );
      return;
    case 'read':
      queryClient.setQueryData<ChatMessage[]>(tradeKeys.chat(signal.trade_id), (log) =>
        log ? markRead(log, signal.up_to, nowMs) : log,
      );
      return;
    case 'resync':
      void queryClient.invalidateQueries({ queryKey: tradeKeys.all });
      return;
    case 'dispute_opened':
    case 'dispute_resolved':
      // The arbitrator's disputes: not trades of this node (see state/disputes).
      return;
  }
}

export function useTakeOffer() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<TradeInfo, BackendError, TakeRequest>({
    mutationFn: (take) => asBackendCall(backend.takeOffer(take)),
    onSuccess: (trade) => storeTrade(queryClient, trade),
  });
}

/** One mutation per trade action; each stores the trade the core answers with. */
function useTradeAction<V>(run: (tradeId: string, value: V) => Promise<TradeInfo>) {
  const queryClient = useQueryClient();
  return useMutation<TradeInfo, BackendError, { tradeId: string; value: V }>({
    mutationFn: ({ tradeId, value }) => asBackendCall(run(tradeId, value)),
    onSuccess: (trade) => storeTrade(queryClient, trade),
  });
}

export function useAnswerTrade() {
  const backend = useBackend();
  return useTradeAction<TradeAnswer>((id, answer) => backend.answerTrade(id, answer));
}

export function useSetEscrowAddress() {
  const backend = useBackend();
  return useTradeAction<string>((id, address) => backend.setEscrowAddress(id, address));
}

export function useMarkPaid() {
  const backend = useBackend();
  return useTradeAction<null>((id) => backend.markPaid(id));
}

export function useMarkReceived() {
  const backend = useBackend();
  return useTradeAction<null>((id) => backend.markReceived(id));
}

export function useCancelTrade() {
  const backend = useBackend();
  return useTradeAction<string>((id, reason) => backend.cancelTrade(id, reason));
}

export function useDisputeTrade() {
  const backend = useBackend();
  return useTradeAction<string>((id, reason) => backend.disputeTrade(id, reason));
}

export function useSendChat(tradeId: string) {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<ChatMessage, BackendError, string>({
    mutationFn: (text) => asBackendCall(backend.sendChat(tradeId, text)),
    onSuccess: (message) => storeMessage(queryClient, message),
  });
}

/** Marks the counterparty's messages read, and zeroes the trade's unread count at once. */
export function useMarkRead(tradeId: string) {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<number, BackendError, null>({
    mutationFn: () => asBackendCall(backend.markRead(tradeId)),
    onSuccess: () => {
      const now = Date.now();
      const clear = (trade: TradeInfo) => (trade.id === tradeId ? { ...trade, unread: 0 } : trade);
      queryClient.setQueryData<TradeInfo[]>(tradeKeys.list, (trades) => trades?.map(clear));
      queryClient.setQueryData<TradeInfo>(tradeKeys.detail(tradeId), (trade) => (trade ? clear(trade) : trade));
      queryClient.setQueryData<ChatMessage[]>(tradeKeys.chat(tradeId), (log) =>
        log?.map((m) => (!m.outgoing && m.read_at === null ? { ...m, read_at: now } : m)),
      );
    },
  });
}
