import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import { BackendError } from '../backend/errors';
import { useBackend } from '../backend/context';
import type { AppStatus, CreatedIdentity, IdentityInfo, ImportedBackup } from '../bindings';
import { startupKey } from './startup';

export const appStatusKey = ['app_status'] as const;

/** Re-throws anything as a BackendError so every query/mutation error has a kind. */
async function asBackendCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

export function useAppStatus() {
  const backend = useBackend();
  return useQuery({
    queryKey: appStatusKey,
    queryFn: () => asBackendCall(backend.appStatus()),
  });
}

/** Records that the identity is now unlocked, without another round trip. */
export function markUnlocked(queryClient: QueryClient, identity: IdentityInfo): void {
  const status: AppStatus = { state: 'unlocked', identity };
  // What was read during the unlock is old news: the startup view reads afresh.
  forgetStartup(queryClient);
  queryClient.setQueryData(appStatusKey, status);
}

/** Asks the backend for the status again (e.g. after "already_initialized"). */
export function useRefreshStatus(): () => Promise<void> {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: appStatusKey });
}

/**
 * Creating does not change the cached status: the seed words must be shown
 * and confirmed first; StatusGate then calls markUnlocked.
 */
export function useCreateIdentity() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<CreatedIdentity, BackendError, { passphrase: string; tor: boolean }>({
    mutationFn: ({ passphrase, tor }) => asBackendCall(backend.createIdentity(passphrase, tor)),
    onMutate: () => forgetStartup(queryClient),
  });
}

/** A new start begins: an earlier attempt's progress must not show, even for a moment. */
function forgetStartup(queryClient: QueryClient): void {
  queryClient.removeQueries({ queryKey: startupKey });
}

export function useRestoreIdentity() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<IdentityInfo, BackendError, { words: string; passphrase: string; tor: boolean }>({
    mutationFn: ({ words, passphrase, tor }) => asBackendCall(backend.restoreIdentity(words, passphrase, tor)),
    onMutate: () => forgetStartup(queryClient),
    onSuccess: (identity) => markUnlocked(queryClient, identity),
  });
}

/**
 * Restores a backup file into the empty data folder; the node is then unlocked. The cached status is
 * left alone, like a creation's: the screen first says what came back (and whether the backup's
 * settings wait for a restart), then calls markUnlocked when the person goes on.
 */
export function useImportBackup() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<ImportedBackup, BackendError, { source: string; passphrase: string }>({
    mutationFn: ({ source, passphrase }) => asBackendCall(backend.importBackup(source, passphrase)),
    onMutate: () => forgetStartup(queryClient),
  });
}

export function useUnlock() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<IdentityInfo, BackendError, { passphrase: string }>({
    mutationFn: ({ passphrase }) => asBackendCall(backend.unlock(passphrase)),
    onMutate: () => forgetStartup(queryClient),
    onSuccess: (identity) => markUnlocked(queryClient, identity),
  });
}
