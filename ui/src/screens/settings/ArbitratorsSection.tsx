import { useState } from 'react';
import type { FormEvent } from 'react';
import type { Preferences } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { PeerId } from '../../components/PeerId';
import { useSavePreferences } from '../../state/settings';
import { SettingsSection } from './SettingsSection';

type ListName = 'accepted_arbitrators' | 'excluded_arbitrators';

const LISTS: Record<ListName, { title: string; other: ListName; otherTitle: string; empty: string }> = {
  accepted_arbitrators: {
    title: 'Accepted',
    other: 'excluded_arbitrators',
    otherTitle: 'excluded',
    empty: 'None: any announced arbitrator that is neither party and not excluded.',
  },
  excluded_arbitrators: {
    title: 'Excluded',
    other: 'accepted_arbitrators',
    otherTitle: 'accepted',
    empty: 'None.',
  },
};

/** A libp2p peer id as typed: base58, starting like every Ed25519 id does. */
const PEER_ID = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/;

/**
 * The arbitrators this person accepts on the offers it takes, and those it never accepts: the taker
 * approves the arbitrator before any coin moves. Each change is saved whole; the core's refusal is shown.
 */
export function ArbitratorsSection({ preferences }: { preferences: Preferences }) {
  const save = useSavePreferences();
  const [note, setNote] = useState<string | null>(null);

  const store = (next: Preferences, done: string) => {
    setNote(null);
    save.mutate(next, { onSuccess: () => setNote(done) });
  };

  return (
    <SettingsSection
      title="Arbitrators"
      intro="Who may hold the third key of your trades’ escrow. When you take an offer, its arbitrator must be announced, must be neither party, must not be excluded here and, when you accept only some, must be one of them."
      testId="settings-arbitrators"
    >
      {(Object.keys(LISTS) as ListName[]).map((name) => (
        <ArbitratorList
          key={name}
          name={name}
          preferences={preferences}
          busy={save.isPending}
          onStore={(next, done) => {
            save.reset();
            store(next, done);
          }}
        />
      ))}
      {save.isError ? <ActionError error={save.error} /> : null}
      {note ? (
        <p role="status" className="muted">
          {note}
        </p>
      ) : null}
    </SettingsSection>
  );
}

function ArbitratorList({
  name,
  preferences,
  busy,
  onStore,
}: {
  name: ListName;
  preferences: Preferences;
  busy: boolean;
  onStore: (next: Preferences, done: string) => void;
}) {
  const list = LISTS[name];
  const ids = preferences[name];
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);

  const add = (event: FormEvent) => {
    event.preventDefault();
    const id = draft.trim();
    if (!PEER_ID.test(id)) {
      setError(`“${id}” is not a peer id (like 12D3KooW…, 52 characters).`);
      return;
    }
    if (ids.includes(id)) {
      setError('Already in this list.');
      return;
    }
    if (preferences[list.other].includes(id)) {
      setError(`This arbitrator is ${list.otherTitle}: remove it there first.`);
      return;
    }
    setError(null);
    setDraft('');
    onStore({ ...preferences, [name]: [...ids, id] }, `Added to the ${list.title.toLowerCase()} arbitrators.`);
  };

  return (
    <div className="arbitrator-list" data-testid={`arbitrators-${name}`}>
      <h3>{list.title} arbitrators</h3>
      {ids.length === 0 ? (
        <p className="muted">{list.empty}</p>
      ) : (
        <ul aria-label={`${list.title} arbitrators`}>
          {ids.map((id) => (
            <li key={id} className="details-row">
              <PeerId peerId={id} full />
              <button
                type="button"
                className="button button--small button--ghost"
                disabled={busy}
                onClick={() =>
                  onStore(
                    { ...preferences, [name]: ids.filter((x) => x !== id) },
                    `Removed from the ${list.title.toLowerCase()} arbitrators.`,
                  )
                }
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="inline-form" onSubmit={add} noValidate>
        <Field label={`Add an ${list.title.toLowerCase()} arbitrator (peer id)`} error={error ?? undefined}>
          {(control) => (
            <input
              {...control}
              autoComplete="off"
              spellCheck={false}
              value={draft}
              onChange={(e) => {
                setDraft(e.target.value);
                setError(null);
              }}
            />
          )}
        </Field>
        <button type="submit" className="button button--small" disabled={busy}>
          Add
        </button>
      </form>
    </div>
  );
}
