import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { Preferences } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { useFocusFirstInvalid } from '../../components/focus';
import { validateNickname } from '../../logic/reputation';
import { useSavePreferences } from '../../state/settings';
import { SavedNote, SettingsSection } from './SettingsSection';

const HINT =
  'Shown to others in quotes after the name Souk derives from your key. Anyone can pick any nickname: it proves nothing. Up to 24 characters.';

/**
 * The nickname this node signs and publishes with its trade receipts (empty: none). Checked here as
 * the core checks it, trimmed, then saved with the other preferences; the core's refusal is shown.
 */
export function NicknameSection({ preferences }: { preferences: Preferences }) {
  const save = useSavePreferences();
  const [draft, setDraft] = useState(preferences.nickname);
  const [attempted, setAttempted] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const refused = useFocusFirstInvalid(formRef);

  const error = attempted ? (validateNickname(draft).error ?? undefined) : undefined;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setAttempted(true);
    setNote(null);
    save.reset();
    const checked = validateNickname(draft);
    if (checked.error !== null) {
      refused();
      return;
    }
    const { nickname } = checked;
    save.mutate(
      { ...preferences, nickname },
      {
        onSuccess: (saved) => {
          setDraft(saved.nickname);
          setAttempted(false);
          setNote(saved.nickname ? 'Nickname saved.' : 'Nickname removed.');
        },
      },
    );
  }

  return (
    <SettingsSection title="Nickname" testId="settings-nickname">
      <form ref={formRef} className="form" noValidate onSubmit={submit}>
        <Field label="Nickname (optional)" hint={HINT} error={error}>
          {(control) => (
            <input
              {...control}
              name="nickname"
              autoComplete="off"
              spellCheck={false}
              value={draft}
              onChange={(e) => {
                setDraft(e.target.value);
                setNote(null);
              }}
            />
          )}
        </Field>
        {save.isError ? <ActionError error={save.error} /> : null}
        <div className="form-actions">
          <button type="submit" className="button button--primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : 'Save nickname'}
          </button>
        </div>
      </form>
      <SavedNote text={note} />
    </SettingsSection>
  );
}
