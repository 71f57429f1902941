import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { PaymentAccount, Preferences } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { Field } from '../../components/Field';
import { useFocusFirstInvalid } from '../../components/focus';
import {
  ACCOUNT_LIMITS,
  EMPTY_DRAFT,
  accountFrom,
  hasErrors,
  newAccountId,
  normalizeMethod,
  validateAccount,
} from '../../logic/paymentAccounts';
import type { AccountDraft, AccountErrors } from '../../logic/paymentAccounts';
import { useSavePreferences } from '../../state/settings';
import { EmptyState } from '../frame/EmptyState';
import { SavedNote, SettingsSection } from './SettingsSection';

/** Methods people use most, offered as suggestions; any other well-formed name works too. */
const COMMON_METHODS = ['SEPA', 'SEPA_INSTANT', 'REVOLUT', 'WISE', 'ZELLE', 'PAYPAL', 'CASH_IN_PERSON', 'FASTER_PAYMENTS'];

interface AccountFormProps {
  /** The account being edited, or null for a new one. */
  editing: PaymentAccount | null;
  others: readonly PaymentAccount[];
  saving: boolean;
  error: unknown;
  onSave: (account: PaymentAccount) => void;
  onCancel: () => void;
}

function AccountForm({ editing, others, saving, error, onSave, onCancel }: AccountFormProps) {
  const [draft, setDraft] = useState<AccountDraft>(
    editing ? { method: editing.method, label: editing.label, details: editing.details } : EMPTY_DRAFT,
  );
  const [attempted, setAttempted] = useState(false);
  const ids = useId();
  const firstRef = useRef<HTMLInputElement>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const refused = useFocusFirstInvalid(formRef);
  useEffect(() => firstRef.current?.focus(), []);

  const errors: AccountErrors = attempted ? validateAccount(draft, others) : {};
  const set = (key: keyof AccountDraft) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setAttempted(true);
    const found = validateAccount(draft, others);
    if (hasErrors(found)) {
      refused();
      return;
    }
    onSave(accountFrom(draft, editing?.id ?? newAccountId()));
  }

  const normalized = normalizeMethod(draft.method);
  return (
    <form
      ref={formRef}
      className="form account-form"
      noValidate
      aria-label={editing ? `Edit ${editing.label}` : 'New payment account'}
      onSubmit={submit}
    >
      <div className="form-row">
        <Field
          label="Payment method"
          hint={
            normalized && normalized !== draft.method.trim()
              ? `Saved as ${normalized}.`
              : 'As offers name it, e.g. SEPA or REVOLUT.'
          }
          error={errors.method}
        >
          {(control) => (
            <input
              {...control}
              ref={firstRef}
              list={`${ids}-methods`}
              autoComplete="off"
              value={draft.method}
              onChange={(e) => set('method')(e.target.value)}
            />
          )}
        </Field>
        <Field label="Name" hint="How you recognise this account, e.g. Main bank." error={errors.label}>
          {(control) => (
            <input {...control} autoComplete="off" value={draft.label} onChange={(e) => set('label')(e.target.value)} />
          )}
        </Field>
      </div>
      <datalist id={`${ids}-methods`}>
        {COMMON_METHODS.map((m) => (
          <option key={m} value={m} />
        ))}
      </datalist>
      <Field
        label="Details"
        hint="What you give a counterparty to pay you or to identify your payment: IBAN and name, phone number, … They stay on this computer until you send them in a trade."
        error={errors.details}
      >
        {(control) => (
          <textarea {...control} rows={3} value={draft.details} onChange={(e) => set('details')(e.target.value)} />
        )}
      </Field>
      {error ? <ActionError error={error} /> : null}
      <div className="form-actions">
        <button type="button" className="button button--ghost" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button button--primary" disabled={saving}>
          {saving ? 'Saving…' : 'Save account'}
        </button>
      </div>
    </form>
  );
}

/** Remove, then an inline "are you sure" that takes the focus. */
function RemoveControl({ account, saving, onRemove }: { account: PaymentAccount; saving: boolean; onRemove: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);
  if (!confirming) {
    return (
      <button
        type="button"
        className="button button--small button--ghost"
        aria-label={`Remove ${account.label} (${account.method})`}
        onClick={() => setConfirming(true)}
      >
        Remove
      </button>
    );
  }
  return (
    <div className="confirm" role="group" aria-label={`Confirm removing ${account.label}`}>
      <p>Remove {account.label}?</p>
      <button ref={confirmRef} type="button" className="button button--small button--danger" disabled={saving} onClick={onRemove}>
        Yes, remove
      </button>
      <button type="button" className="button button--small button--ghost" onClick={() => setConfirming(false)}>
        Keep it
      </button>
    </div>
  );
}

/** The accounts a person pays and gets paid with: add, edit, remove; each change saved whole. */
export function PaymentAccountsSection({ preferences }: { preferences: Preferences }) {
  const save = useSavePreferences();
  // 'new', an account id, or null when no form is open.
  const [editing, setEditing] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const addRef = useRef<HTMLButtonElement>(null);
  const accounts = preferences.payment_accounts;
  const full = accounts.length >= ACCOUNT_LIMITS.maxAccounts;

  const store = (next: PaymentAccount[], done: string) => {
    setNote(null);
    save.mutate(
      { ...preferences, payment_accounts: next },
      {
        onSuccess: () => {
          setEditing(null);
          setNote(done);
          addRef.current?.focus();
        },
      },
    );
  };
  const open = (which: string) => {
    save.reset();
    setNote(null);
    setEditing(which);
  };

  const current = editing && editing !== 'new' ? (accounts.find((a) => a.id === editing) ?? null) : null;
  return (
    <SettingsSection
      title="Payment accounts"
      intro="The accounts you pay and get paid with. The Market can show only offers you can pay with one of them."
      testId="settings-accounts"
    >
      {accounts.length === 0 ? (
        <EmptyState title="No payment accounts yet">
          Add one to use the Market’s “Only my payment methods” filter.
        </EmptyState>
      ) : (
        <ul className="account-list" aria-label="Your payment accounts">
          {accounts.map((account) =>
            editing === account.id ? (
              <li key={account.id} className="account account--editing">
                <AccountForm
                  editing={account}
                  others={accounts.filter((a) => a.id !== account.id)}
                  saving={save.isPending}
                  error={save.isError ? save.error : null}
                  onSave={(changed) =>
                    store(
                      accounts.map((a) => (a.id === changed.id ? changed : a)),
                      `${changed.label} saved.`,
                    )
                  }
                  onCancel={() => setEditing(null)}
                />
              </li>
            ) : (
              <li key={account.id} className="account" data-account-id={account.id}>
                <div className="account-head">
                  <span className="badge">{account.method}</span>
                  <span className="account-label">{account.label}</span>
                  <span className="account-actions">
                    <button
                      type="button"
                      className="button button--small"
                      aria-label={`Edit ${account.label} (${account.method})`}
                      onClick={() => open(account.id)}
                    >
                      Edit
                    </button>
                    <RemoveControl
                      account={account}
                      saving={save.isPending}
                      onRemove={() =>
                        store(
                          accounts.filter((a) => a.id !== account.id),
                          `${account.label} removed.`,
                        )
                      }
                    />
                  </span>
                </div>
                <p className="account-details plain-text">{account.details}</p>
              </li>
            ),
          )}
        </ul>
      )}
      {editing === 'new' ? (
        <AccountForm
          editing={null}
          others={accounts}
          saving={save.isPending}
          error={save.isError ? save.error : null}
          onSave={(added) => store([...accounts, added], `${added.label} added.`)}
          onCancel={() => setEditing(null)}
        />
      ) : (
        <div className="button-row">
          <button
            ref={addRef}
            type="button"
            className="button"
            disabled={full || current !== null}
            aria-describedby={full ? 'accounts-full' : undefined}
            onClick={() => open('new')}
          >
            Add payment account
          </button>
          {full ? (
            <span className="muted" id="accounts-full">
              At most {ACCOUNT_LIMITS.maxAccounts} accounts.
            </span>
          ) : null}
        </div>
      )}
      {editing === null && save.isError ? <ActionError error={save.error} /> : null}
      <SavedNote text={note} />
    </SettingsSection>
  );
}
