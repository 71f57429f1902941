import type { ChainStatus, NatStatus, Reach, Refusals } from '../bindings';

/** Whether others can reach this node, as a headline and what it means. */
export const REACH_TEXT: Record<Reach, { title: string; text: string }> = {
  public: { title: 'Reachable directly.', text: 'Other peers can open connections to this node.' },
  relayed: {
    title: 'Reachable through a relay.',
    text: 'Other peers reach this node through its reservation on a relay; direct connections are tried from there (hole punching).',
  },
  private: {
    title: 'Not reachable from outside.',
    text: 'This node is behind a NAT or firewall and has no relay reservation: its own connections work, but peers cannot open one to it.',
  },
  unknown: {
    title: 'Not known yet.',
    text: 'AutoNAT asks connected peers to dial back; that needs a few peers.',
  },
};

export const NAT_LABELS: Record<NatStatus, string> = {
  public: 'Public: peers dialled back and reached this node',
  private: 'Private: peers could not dial back',
  unknown: 'Not determined yet',
};

export type ChainHealth = 'unconfigured' | 'connected' | 'unreachable';

export function chainHealth(status: ChainStatus): ChainHealth {
  if (!status.configured) return 'unconfigured';
  return status.connected ? 'connected' : 'unreachable';
}

const CHAIN_NAMES: Record<ChainStatus['chain'], string> = { btc: 'Bitcoin', ltc: 'Litecoin' };

/** "Litecoin regtest" */
export function chainName(status: ChainStatus): string {
  return `${CHAIN_NAMES[status.chain]} ${status.network}`;
}

/** What the node refused from peers since it started, in words; "nothing" when it refused nothing. */
export function refusalsText(r: Refusals): string {
  const parts: string[] = [];
  const count = (n: number, one: string, many: string) => {
    if (n > 0) parts.push(`${n} ${n === 1 ? one : many}`);
  };
  count(r.takes, 'take', 'takes');
  count(r.takes_expired, 'unanswered take expired', 'unanswered takes expired');
  count(r.envelopes, 'trade message', 'trade messages');
  count(r.chat_messages, 'chat message over the limits', 'chat messages over the limits');
  count(r.recovery_copies, 'recovery copy that was not this node’s', 'recovery copies that were not this node’s');
  count(r.peers_ignored, 'peer ignored for bad gossip', 'peers ignored for bad gossip');
  return parts.length > 0 ? parts.join(', ') : 'nothing';
}
