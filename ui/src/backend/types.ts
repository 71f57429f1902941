import type { AppStatus, CreatedIdentity, IdentityInfo } from '../bindings';

/**
 * Everything the UI asks of the Rust core. Implementations reject with a
 * BackendError. The desktop shell uses `tauriBackend`; browser mode
 * (`souk serve`, HTTP + WebSocket) will provide a second implementation.
 */
export interface Backend {
  appStatus(): Promise<AppStatus>;
  createIdentity(passphrase: string): Promise<CreatedIdentity>;
  restoreIdentity(words: string, passphrase: string): Promise<IdentityInfo>;
  unlock(passphrase: string): Promise<IdentityInfo>;
}
