import {
  PEER_NAME_ADJECTIVES,
  PEER_NAME_ANIMALS,
  type Avatar,
} from '../bindings';

/**
 * A name and an avatar for every PeerId, computed here exactly as the core computes them
 * (`crates/core/src/peer_name.rs`): the same on every node and in the CLI. The word lists come from the
 * generated bindings, and `peerName.test.ts` checks this code against the core's test vectors.
 *
 * A name tells peers apart; it is not an identity to trust (anyone can grind a PeerId to any name).
 */

const MASK = (1n << 64n) - 1n;

/** FNV-1a over the PeerId's bytes, then the SplitMix64 finaliser. */
export function peerHash(peerId: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(peerId.trim())) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & MASK;
  }
  h ^= h >> 30n;
  h = (h * 0xbf58476d1ce4e5b9n) & MASK;
  h ^= h >> 27n;
  h = (h * 0x94d049bb133111ebn) & MASK;
  return h ^ (h >> 31n);
}

/** `Amber Falcon 07`. */
export function peerName(peerId: string): string {
  const h = peerHash(peerId);
  const adjective = PEER_NAME_ADJECTIVES[Number(h & 63n)];
  const animal = PEER_NAME_ANIMALS[Number((h >> 6n) & 63n)];
  const number = Number(((h >> 12n) & 0xfffffn) % 100n);
  return `${adjective} ${animal} ${String(number).padStart(2, '0')}`;
}

/** A hue and the 15 cells of a 5×5 grid whose right two columns mirror the left two. */
export function peerAvatar(peerId: string): Avatar {
  const h = peerHash(peerId);
  const cells: boolean[] = [];
  for (let i = 0n; i < 15n; i += 1n) cells.push(((h >> (48n + i)) & 1n) === 1n);
  return { hue: Number(((h >> 32n) & 0xffffn) % 360n), cells };
}
