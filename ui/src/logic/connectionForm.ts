import type { Chain, ConnectionEdit, ConnectionValues, Network } from '../bindings';

/** A base58 libp2p PeerId (ed25519 ids start with 12D3KooW, older RSA ones with Qm). */
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{46,60}$/;
const CONTROL = /\p{Cc}/u;
/** The core's limit (crates/core/src/connection.rs). */
export const MAX_BOOTSTRAP = 64;

export const CHAINS: readonly { value: Chain; label: string }[] = [
  { value: 'btc', label: 'Bitcoin' },
  { value: 'ltc', label: 'Litecoin' },
];

export const NETWORKS: readonly { value: Network; label: string }[] = [
  { value: 'main', label: 'Mainnet (real money)' },
  { value: 'test', label: 'Testnet' },
  { value: 'signet', label: 'Signet' },
  { value: 'regtest', label: 'Regtest (local testing)' },
];

/** What the chain backend form holds. */
export interface ChainDraft {
  chain: Chain;
  network: Network;
  rpcUrl: string;
  rpcUser: string;
  /** Typed here; empty keeps the saved one unless `clearPassword`. */
  rpcPassword: string;
  clearPassword: boolean;
  cookieFile: string;
  /** An Electrum server instead of a node: tcp://HOST:PORT or ssl://HOST:PORT. */
  electrumUrl: string;
  /** The SHA-256 fingerprint of the Electrum server's self-signed TLS certificate to trust. */
  electrumCert: string;
}

export type ChainErrors = Partial<
  Record<'rpcUrl' | 'rpcUser' | 'rpcPassword' | 'cookieFile' | 'electrumUrl' | 'electrumCert', string>
>;

export function chainDraftOf(values: ConnectionValues): ChainDraft {
  return {
    chain: values.chain,
    network: values.network,
    rpcUrl: values.rpc_url,
    rpcUser: values.rpc_user,
    rpcPassword: '',
    clearPassword: false,
    cookieFile: values.rpc_cookie_file,
    electrumUrl: values.electrum_url,
    electrumCert: values.electrum_cert_sha256,
  };
}

/** The core's checks of the chain fields, field by field. */
export function validateChain(draft: ChainDraft): ChainErrors {
  const errors: ChainErrors = {};
  const url = draft.rpcUrl.trim();
  if (url) {
    if (!/^https?:\/\//.test(url)) errors.rpcUrl = 'Start with http:// or https://, e.g. http://127.0.0.1:9332/';
    else if (/\s/.test(url)) errors.rpcUrl = 'The URL cannot contain spaces.';
    else {
      try {
        if (!new URL(url).hostname) errors.rpcUrl = 'The URL names no host.';
      } catch {
        errors.rpcUrl = 'This is not a URL.';
      }
    }
  }
  if (draft.rpcUser.includes(':')) errors.rpcUser = 'The user name cannot contain “:”.';
  else if (CONTROL.test(draft.rpcUser)) errors.rpcUser = 'The user name cannot contain control characters.';
  if (CONTROL.test(draft.rpcPassword)) errors.rpcPassword = 'The password cannot contain line breaks or control characters.';
  const cookie = draft.cookieFile.trim();
  if (cookie && !(cookie.startsWith('/') || /^[A-Za-z]:[\\/]/.test(cookie))) {
    errors.cookieFile = 'Give the full path, e.g. /home/you/.litecoin/.cookie';
  }
  const electrum = draft.electrumUrl.trim();
  if (electrum && !/^(tcp|ssl):\/\/[^\s:/]+:\d{1,5}$/.test(electrum)) {
    errors.electrumUrl = 'Give tcp://HOST:PORT or ssl://HOST:PORT (TLS), e.g. ssl://electrum.example.org:50002';
  }
  const cert = draft.electrumCert.trim();
  if (cert) {
    if (!/^[0-9a-fA-F]{64}$/.test(cert.replace(/[:\s-]/g, ''))) {
      errors.electrumCert = 'Give the SHA-256 fingerprint: 64 hex digits, colons allowed (AB:CD:…).';
    } else if (!electrum.startsWith('ssl://')) {
      errors.electrumCert = 'A certificate fingerprint is for a server over TLS (ssl://…).';
    }
  }
  return errors;
}

/** One multiaddr per line; blank lines are ignored. */
export function bootstrapLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/**
 * Checks each bootstrap address as far as the UI can: a multiaddr ending in /p2p/<PeerId>, each
 * once, and in Tor mode an onion address. The core parses them fully on save and its reason is shown
 * too.
 */
export function validateBootstrap(lines: readonly string[], tor = false): string | undefined {
  if (lines.length > MAX_BOOTSTRAP) return `At most ${MAX_BOOTSTRAP.toString()} bootstrap peers.`;
  const seen = new Set<string>();
  for (const [i, line] of lines.entries()) {
    const which = `Line ${(i + 1).toString()}`;
    if (!line.startsWith('/')) return `${which} is not a multiaddr: it starts with /, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…`;
    const parts = line.split('/');
    const id = parts.at(-1) ?? '';
    if (parts.at(-2) !== 'p2p' || !PEER_ID.test(id)) return `${which} does not end in /p2p/<PeerId>.`;
    if (seen.has(line)) return `${which} is listed twice.`;
    if (tor && !line.startsWith('/onion3/'))
      return `${which} is not an onion address: in Tor mode Souk reaches peers only at /onion3/…/p2p/<PeerId> addresses.`;
    seen.add(line);
  }
  return undefined;
}

/** The edit the core takes: this chain draft, the bootstrap list as given, and Tor mode. */
export function connectionEdit(draft: ChainDraft, bootstrap: readonly string[], tor: boolean): ConnectionEdit {
  return {
    chain: draft.chain,
    network: draft.network,
    rpc_url: draft.rpcUrl.trim(),
    rpc_user: draft.rpcUser,
    rpc_password: draft.clearPassword ? '' : draft.rpcPassword === '' ? null : draft.rpcPassword,
    rpc_cookie_file: draft.cookieFile.trim(),
    electrum_url: draft.electrumUrl.trim(),
    electrum_cert_sha256: draft.electrumCert.trim(),
    bootstrap: [...bootstrap],
    tor,
  };
}

/** Whether a chain backend is named at all (without one, escrow trades are off). */
export function namesBackend(draft: ChainDraft): boolean {
  return draft.rpcUrl.trim() !== '' || draft.cookieFile.trim() !== '' || draft.electrumUrl.trim() !== '';
}

export function chainName(chain: Chain): string {
  return CHAINS.find((c) => c.value === chain)?.label ?? chain;
}

export function networkName(network: Network): string {
  return network === 'main' ? 'mainnet' : network;
}
