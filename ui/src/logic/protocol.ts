// The protocol's rules, read from the tables the core applies (generated into bindings.ts), with the
// core's reasons for a refusal: the UI and its test double follow the same rules as every node.
import { NEGOTIATION_TRANSITIONS, TRADE_TRANSITIONS } from '../bindings';
import type { Actor, MessageKind, StepKind, TradeRole, TradeState } from '../bindings';

/** Where a step leads, or the core's reason for refusing it. */
export type Step = { to: TradeState } | { refused: string };

/** Nothing can follow: no transition of either table leaves the state. */
export function isOverState(state: TradeState): boolean {
  return (
    !NEGOTIATION_TRANSITIONS.some((t) => t.from === state) && !TRADE_TRANSITIONS.some((t) => t.from === state)
  );
}

const lower = (state: TradeState): string => state.toLowerCase();

/** What the core's `negotiation::transition` answers to `party` sending `kind` in `from` (null: before anything). */
export function negotiationStep(from: TradeState | null, party: TradeRole, kind: MessageKind): Step {
  if (from !== null && !NEGOTIATION_TRANSITIONS.some((t) => t.from === from)) {
    return { refused: `the negotiation is already finished (${lower(from)})` };
  }
  if (!NEGOTIATION_TRANSITIONS.some((t) => t.party === party && t.kind === kind)) {
    return { refused: `the ${party} never sends ${kind}` };
  }
  const found = NEGOTIATION_TRANSITIONS.find((t) => t.from === from && t.party === party && t.kind === kind);
  if (found) return { to: found.to };
  const state = lower(from ?? 'Requested');
  const expected = NEGOTIATION_TRANSITIONS.find((t) => t.from === from);
  if (expected && expected.party !== party) {
    return { refused: `not the ${party}'s turn: the negotiation is ${state}, waiting for the ${expected.party}` };
  }
  return { refused: `${kind} is not a valid answer while the negotiation is ${state}` };
}

/** What the core's `settlement::next_state` answers to `actor` making `kind` in `from`. */
export function tradeStep(from: TradeState, actor: Actor, kind: StepKind, escrow: boolean): Step {
  if (isOverState(from)) return { refused: `the trade is ${from}: it is over, nothing can follow` };
  const allowed = TRADE_TRANSITIONS.filter((t) => t.escrow === null || t.escrow === escrow);
  const found = allowed.find((t) => t.from === from && t.actor === actor && t.kind === kind);
  if (found) return { to: found.to };
  if (!escrow && !allowed.some((t) => t.kind === kind)) {
    return { refused: `${kind} is not a step of a trade without escrow` };
  }
  return { refused: `the ${actor} cannot ${kind} while the trade is ${from}` };
}
