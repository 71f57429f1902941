import { useId, useState } from 'react';
import type { NotificationPrefs, Preferences, Theme } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { useSavePreferences } from '../../state/settings';
import { SavedNote, SettingsSection } from './SettingsSection';

const THEMES: readonly { value: Theme; label: string; hint: string }[] = [
  { value: 'system', label: 'System', hint: 'follows your computer' },
  { value: 'light', label: 'Light', hint: '' },
  { value: 'dark', label: 'Dark', hint: '' },
];

const NOTIFICATIONS: readonly { key: keyof NotificationPrefs; label: string; hint: string }[] = [
  { key: 'offer_taken', label: 'Someone takes one of my offers', hint: 'A take request waits for your answer.' },
  { key: 'message', label: 'New chat messages and negotiation steps', hint: 'From the counterparty of a trade.' },
  {
    key: 'escrow',
    label: 'Escrow steps',
    hint: 'Funded, confirmed, payment sent or received, released, disputed, resolved.',
  },
  { key: 'deadline', label: 'A trade deadline is near', hint: 'Funding, payment or release is due soon.' },
  {
    key: 'matching_offer',
    label: 'A new offer matches a saved search',
    hint: 'Save a search on the Market screen to hear of new offers like it.',
  },
];

type Saved = 'theme' | 'notifications';

/** Theme (applied at once) and which desktop notifications to show; each change is saved at once. */
export function AppearanceSection({ preferences }: { preferences: Preferences }) {
  const save = useSavePreferences();
  // Which section the last change came from: its feedback shows there.
  const [last, setLast] = useState<Saved | null>(null);
  const ids = useId();

  // What was just chosen, shown until the save settles (then the stored value shows: the choice,
  // or the old one if refused). Plain component state, so the control never flickers back.
  const [choosing, setChoosing] = useState<Preferences | null>(null);
  const shown = choosing ?? preferences;

  const change = (next: Preferences, what: Saved) => {
    setLast(what);
    setChoosing(next);
    save.mutate(next, { onSettled: () => setChoosing(null) });
  };
  const savedIn = (what: Saved) => save.isSuccess && last === what;
  const failedIn = (what: Saved) => save.isError && last === what;

  return (
    <>
      <SettingsSection title="Appearance" testId="settings-appearance">
        <fieldset className="radio-group">
          <legend>Theme</legend>
          {THEMES.map((t) => (
            <label key={t.value} className="radio">
              <input
                type="radio"
                name={`${ids}-theme`}
                value={t.value}
                checked={shown.theme === t.value}
                onChange={() => change({ ...shown, theme: t.value }, 'theme')}
              />
              {t.label}
              {t.hint ? <span className="muted"> ({t.hint})</span> : null}
            </label>
          ))}
        </fieldset>
        <SavedNote text={savedIn('theme') ? 'Theme saved.' : null} />
        {failedIn('theme') ? <ActionError error={save.error} /> : null}
      </SettingsSection>

      <SettingsSection
        title="Notifications"
        intro="Which desktop notifications Souk shows while the app runs."
        testId="settings-notifications"
      >
        <fieldset className="check-group">
          <legend className="visually-hidden">Notify me when</legend>
          {NOTIFICATIONS.map((n) => (
            <label key={n.key} className="checkbox checkbox--described">
              <input
                type="checkbox"
                checked={shown.notifications[n.key]}
                aria-describedby={`${ids}-${n.key}`}
                onChange={(e) =>
                  change(
                    { ...shown, notifications: { ...shown.notifications, [n.key]: e.target.checked } },
                    'notifications',
                  )
                }
              />
              <span>
                {n.label}
                <span className="field-hint" id={`${ids}-${n.key}`}>
                  {n.hint}
                </span>
              </span>
            </label>
          ))}
        </fieldset>
        <SavedNote text={savedIn('notifications') ? 'Notification choices saved.' : null} />
        {failedIn('notifications') ? <ActionError error={save.error} /> : null}
      </SettingsSection>
    </>
  );
}
