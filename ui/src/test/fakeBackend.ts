import type { Backend } from '../backend/types';
import { BackendError } from '../backend/errors';
import type { AppStatus, CreatedIdentity, ErrorKind, IdentityInfo } from '../bindings';

/** 24 distinct, recognisable words so tests can look them up by position. */
export const FAKE_WORDS: readonly string[] = [
  'abandon', 'ability', 'able', 'about', 'above', 'absent',
  'absorb', 'abstract', 'absurd', 'abuse', 'access', 'accident',
  'account', 'accuse', 'achieve', 'acid', 'acoustic', 'acquire',
  'across', 'act', 'action', 'actor', 'actress', 'actual',
];

export const FAKE_PEER_ID = '12D3KooWFakePeerIdForTests9xYzAbCdEfGh1234567890Qq';
export const FAKE_DATA_DIR = '/home/test/.local/share/souk';

type FakeState = 'needs_setup' | 'locked' | 'unlocked';

interface FakeBackendOptions {
  state?: FakeState;
  passphrase?: string;
  words?: readonly string[];
  /** Make the next call of a method fail with this error kind. */
  failNext?: Partial<Record<keyof Backend, ErrorKind>>;
}

/** In-memory stand-in for the Rust core, for tests only. */
export class FakeBackend implements Backend {
  state: FakeState;
  passphrase: string;
  words: readonly string[];
  failNext: Partial<Record<keyof Backend, ErrorKind>>;
  readonly calls: { method: keyof Backend; args: unknown[] }[] = [];

  constructor(options: FakeBackendOptions = {}) {
    this.state = options.state ?? 'needs_setup';
    this.passphrase = options.passphrase ?? 'correct horse';
    this.words = options.words ?? FAKE_WORDS;
    this.failNext = { ...options.failNext };
  }

  private identity(): IdentityInfo {
    return { peer_id: FAKE_PEER_ID, data_dir: FAKE_DATA_DIR, schema_version: 3 };
  }

  private record(method: keyof Backend, args: unknown[]): void {
    this.calls.push({ method, args });
    const kind = this.failNext[method];
    if (kind) {
      delete this.failNext[method];
      throw new BackendError(kind, `injected ${kind}`);
    }
  }

  callsOf(method: keyof Backend): unknown[][] {
    return this.calls.filter((call) => call.method === method).map((call) => call.args);
  }

  appStatus(): Promise<AppStatus> {
    return Promise.resolve().then(() => {
      this.record('appStatus', []);
      switch (this.state) {
        case 'needs_setup':
          return { state: 'needs_setup', data_dir: FAKE_DATA_DIR };
        case 'locked':
          return { state: 'locked', data_dir: FAKE_DATA_DIR, peer_id: FAKE_PEER_ID };
        case 'unlocked':
          return { state: 'unlocked', identity: this.identity() };
      }
    });
  }

  createIdentity(passphrase: string): Promise<CreatedIdentity> {
    return Promise.resolve().then(() => {
      this.record('createIdentity', [passphrase]);
      if (this.state !== 'needs_setup') {
        throw new BackendError('already_initialized', 'identity exists');
      }
      this.state = 'unlocked';
      this.passphrase = passphrase;
      return { identity: this.identity(), words: [...this.words] };
    });
  }

  restoreIdentity(words: string, passphrase: string): Promise<IdentityInfo> {
    return Promise.resolve().then(() => {
      this.record('restoreIdentity', [words, passphrase]);
      if (this.state !== 'needs_setup') {
        throw new BackendError('already_initialized', 'identity exists');
      }
      if (words !== this.words.join(' ')) {
        throw new BackendError('invalid_seed_phrase', 'checksum mismatch');
      }
      this.state = 'unlocked';
      this.passphrase = passphrase;
      return this.identity();
    });
  }

  unlock(passphrase: string): Promise<IdentityInfo> {
    return Promise.resolve().then(() => {
      this.record('unlock', [passphrase]);
      if (this.state === 'needs_setup') {
        throw new BackendError('not_initialized', 'no identity');
      }
      if (passphrase !== this.passphrase) {
        throw new BackendError('wrong_passphrase', 'decryption failed');
      }
      this.state = 'unlocked';
      return this.identity();
    });
  }
}
