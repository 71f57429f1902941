import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useBackend } from '../backend/context';
import { BackendError } from '../backend/errors';
import type { BackupSettings, BackupSummary, ChainCheck, ConnectionEdit, Preferences, SavedConnection } from '../bindings';

export const settingsKeys = {
  preferences: ['settings', 'preferences'] as const,
  connection: ['settings', 'connection'] as const,
  backup: ['settings', 'backup'] as const,
};

async function asBackendCall<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (thrown) {
    throw BackendError.from(thrown);
  }
}

/** The person's preferences (theme, notifications, payment accounts). */
export function usePreferences() {
  const backend = useBackend();
  return useQuery({
    queryKey: settingsKeys.preferences,
    queryFn: () => asBackendCall(backend.preferences()),
  });
}

/**
 * Saves the preferences whole. The cache shows the new value at once (a theme applies before the
 * round trip) and goes back to the stored one if the core refuses.
 */
export function useSavePreferences() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<Preferences, BackendError, Preferences, { previous: Preferences | undefined }>({
    mutationFn: (preferences) => asBackendCall(backend.savePreferences(preferences)),
    onMutate: async (preferences) => {
      await queryClient.cancelQueries({ queryKey: settingsKeys.preferences });
      const previous = queryClient.getQueryData<Preferences>(settingsKeys.preferences);
      queryClient.setQueryData(settingsKeys.preferences, preferences);
      return { previous };
    },
    onError: (_error, _preferences, context) => {
      if (context?.previous) queryClient.setQueryData(settingsKeys.preferences, context.previous);
    },
    onSuccess: (saved) => queryClient.setQueryData(settingsKeys.preferences, saved),
  });
}

/** The chain backend and bootstrap peers: saved in souk.toml, and as the node runs. */
export function useConnectionSettings() {
  const backend = useBackend();
  return useQuery({
    queryKey: settingsKeys.connection,
    queryFn: () => asBackendCall(backend.connectionSettings()),
  });
}

export function useSaveConnection() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<SavedConnection, BackendError, ConnectionEdit>({
    mutationFn: (edit) => asBackendCall(backend.saveConnectionSettings(edit)),
    onSuccess: (saved) => queryClient.setQueryData(settingsKeys.connection, saved.settings),
  });
}

export function useTestChain() {
  const backend = useBackend();
  return useMutation<ChainCheck, BackendError, ConnectionEdit>({
    mutationFn: (edit) => asBackendCall(backend.testChainConnection(edit)),
  });
}

/** Writes an encrypted backup of the data folder to a new file (or a new file in a folder). */
export function useExportBackup() {
  const backend = useBackend();
  return useMutation<BackupSummary, BackendError, { target: string; passphrase: string }>({
    mutationFn: ({ target, passphrase }) => asBackendCall(backend.exportBackup(target, passphrase)),
  });
}

/** Automatic backups: where they go (null: off), how many are kept, whether they run now. */
export function useBackupSettings() {
  const backend = useBackend();
  return useQuery({
    queryKey: settingsKeys.backup,
    queryFn: () => asBackendCall(backend.backupSettings()),
  });
}

/** Turns automatic backups on (a folder and the passphrase that seals them) or off (an empty folder). */
export function useSaveBackupSettings() {
  const backend = useBackend();
  const queryClient = useQueryClient();
  return useMutation<BackupSettings, BackendError, { folder: string; keep: number; passphrase: string }>({
    mutationFn: ({ folder, keep, passphrase }) => asBackendCall(backend.saveBackupSettings(folder, keep, passphrase)),
    onSuccess: (saved) => queryClient.setQueryData(settingsKeys.backup, saved),
  });
}
