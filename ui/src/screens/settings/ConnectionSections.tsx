import { useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { ChainCheck, ConnectionSettings, ConnectionValues, SavedConnection } from '../../bindings';
import { BackendError } from '../../backend/errors';
import { ErrorAlert } from '../../components/ErrorAlert';
import { Field } from '../../components/Field';
import { useFocusFirstInvalid } from '../../components/focus';
import {
  CHAINS,
  NETWORKS,
  bootstrapLines,
  chainDraftOf,
  chainName,
  connectionEdit,
  namesBackend,
  networkName,
  validateBootstrap,
  validateChain,
} from '../../logic/connectionForm';
import type { ChainDraft, ChainErrors } from '../../logic/connectionForm';
import { inCoreWords } from '../../logic/errorMessages';
import { hasErrors } from '../../logic/paymentAccounts';
import { useConnectionSettings, useSaveConnection, useTestChain } from '../../state/settings';
import { SavedNote, SettingsSection } from './SettingsSection';

/** The environment variable overriding `key`, if one is set. */
function overrideOf(settings: ConnectionSettings, key: string): string | undefined {
  return settings.env_overrides.find((o) => o.key === key)?.variable;
}

/** A refused test or save, in the core's words (they name the node, the field, the reason). */
function CoreError({ error }: { error: unknown }) {
  return (
    <div className="alert" role="alert">
      <p className="alert-text">{inCoreWords(BackendError.from(error))}</p>
    </div>
  );
}

function OverrideNote({ variable }: { variable: string | undefined }) {
  if (!variable) return null;
  return (
    <p className="env-note">
      <code>{variable}</code> is set in Souk’s environment and overrides this value while it is set.
    </p>
  );
}

function describeBackend(values: ConnectionValues): string {
  const where =
    values.electrum_url || values.rpc_url || (values.rpc_cookie_file ? `the node of ${values.rpc_cookie_file}` : '');
  if (!where) return 'no chain backend (trades without escrow)';
  return `${chainName(values.chain)} ${networkName(values.network)} at ${where}`;
}

function sameBackend(a: ConnectionValues, b: ConnectionValues): boolean {
  return (
    a.chain === b.chain &&
    a.network === b.network &&
    a.rpc_url === b.rpc_url &&
    a.rpc_user === b.rpc_user &&
    a.rpc_password_set === b.rpc_password_set &&
    a.rpc_cookie_file === b.rpc_cookie_file &&
    a.electrum_url === b.electrum_url &&
    a.electrum_cert_sha256 === b.electrum_cert_sha256
  );
}

function checkText(check: ChainCheck): string {
  const wallet = check.electrum
    ? 'Electrum server'
    : check.wallets
      ? `escrows are watched in a watch-only wallet there${check.pruned ? '; pruned node' : ''}`
      : 'its wallet is disabled: start it without -disablewallet, Souk keeps a watch-only wallet there';
  return `Connected to ${chainName(check.chain)} ${networkName(check.network)} at ${check.url}: block height ${check.tip_height.toLocaleString('en-US')} (${wallet}).`;
}

/** The chain node escrows settle on: edit, test, save into souk.toml (applies on restart). */
function ChainSection({ settings }: { settings: ConnectionSettings }) {
  const [draft, setDraft] = useState<ChainDraft>(() => chainDraftOf(settings.saved));
  const [attempted, setAttempted] = useState(false);
  // A test failed on Save: offer to save anyway.
  const [unconfirmed, setUnconfirmed] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const test = useTestChain();
  const save = useSaveConnection();
  const formRef = useRef<HTMLFormElement>(null);
  const refused = useFocusFirstInvalid(formRef);
  const ids = useId();

  const errors: ChainErrors = attempted ? validateChain(draft) : {};
  const edit = () => connectionEdit(draft, settings.saved.bootstrap, settings.saved.tor);
  const set = <K extends keyof ChainDraft>(key: K, value: ChainDraft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    setUnconfirmed(false);
    setNote(null);
    test.reset();
    save.reset();
  };
  const checked = (): boolean => {
    setAttempted(true);
    if (hasErrors(validateChain(draft))) {
      refused();
      return false;
    }
    return true;
  };
  const store = () => {
    save.mutate(edit(), {
      onSuccess: () => {
        setUnconfirmed(false);
        setDraft((d) => ({ ...d, rpcPassword: '', clearPassword: false }));
        setNote('Saved to souk.toml. Souk uses this chain backend from its next start.');
      },
    });
  };

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setNote(null);
    if (!checked()) return;
    // A backend is tested before it is saved; none at all (escrow off) needs no test.
    if (!namesBackend(draft)) return store();
    test.mutate(edit(), {
      onSuccess: store,
      onError: () => setUnconfirmed(true),
    });
  }

  const passwordHint = draft.clearPassword
    ? 'The saved password will be removed.'
    : settings.saved.rpc_password_set
      ? 'A password is saved. Leave this empty to keep it.'
      : 'No password is saved.';
  const busy = test.isPending || save.isPending;
  return (
    <SettingsSection
      title="Chain backend"
      intro="The Bitcoin Core or Litecoin Core node escrows settle on (Souk keeps a watch-only wallet there; no transaction index needed, pruning is fine). Without one, Souk trades without escrow."
      testId="settings-chain"
    >
      {!sameBackend(settings.running, settings.saved) ? (
        <p className="muted" data-testid="chain-running">
          Running now with {describeBackend(settings.running)}.
        </p>
      ) : null}
      <form ref={formRef} className="form" noValidate aria-label="Chain backend" onSubmit={submit}>
        <div className="form-row">
          <div className="field">
            <label className="field-label" htmlFor={`${ids}-chain`}>
              Chain
            </label>
            <select id={`${ids}-chain`} value={draft.chain} onChange={(e) => set('chain', e.target.value as ChainDraft['chain'])}>
              {CHAINS.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
            <OverrideNote variable={overrideOf(settings, 'chain.chain')} />
          </div>
          <div className="field">
            <label className="field-label" htmlFor={`${ids}-network`}>
              Network
            </label>
            <select
              id={`${ids}-network`}
              value={draft.network}
              onChange={(e) => set('network', e.target.value as ChainDraft['network'])}
            >
              {NETWORKS.map((n) => (
                <option key={n.value} value={n.value}>
                  {n.label}
                </option>
              ))}
            </select>
            <OverrideNote variable={overrideOf(settings, 'chain.network')} />
          </div>
        </div>
        <Field
          label="RPC URL"
          hint="e.g. http://127.0.0.1:9332/ — empty: no chain backend."
          error={errors.rpcUrl}
        >
          {(control) => (
            <input
              {...control}
              inputMode="url"
              autoComplete="off"
              spellCheck={false}
              value={draft.rpcUrl}
              onChange={(e) => set('rpcUrl', e.target.value)}
            />
          )}
        </Field>
        <OverrideNote variable={overrideOf(settings, 'chain.rpc_url')} />
        <div className="form-row">
          <div>
            <Field label="RPC user" error={errors.rpcUser}>
              {(control) => (
                <input
                  {...control}
                  autoComplete="off"
                  spellCheck={false}
                  value={draft.rpcUser}
                  onChange={(e) => set('rpcUser', e.target.value)}
                />
              )}
            </Field>
            <OverrideNote variable={overrideOf(settings, 'chain.rpc_user')} />
          </div>
          <div>
            <Field label="RPC password" hint={passwordHint} error={errors.rpcPassword}>
              {(control) => (
                <input
                  {...control}
                  type="password"
                  autoComplete="new-password"
                  value={draft.rpcPassword}
                  disabled={draft.clearPassword}
                  onChange={(e) => set('rpcPassword', e.target.value)}
                />
              )}
            </Field>
            {settings.saved.rpc_password_set ? (
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={draft.clearPassword}
                  onChange={(e) => set('clearPassword', e.target.checked)}
                />
                Remove the saved password
              </label>
            ) : null}
            <OverrideNote variable={overrideOf(settings, 'chain.rpc_password')} />
          </div>
        </div>
        <Field
          label="RPC cookie file"
          hint="Instead of a user and password: the node’s .cookie file, as a full path."
          error={errors.cookieFile}
        >
          {(control) => (
            <input
              {...control}
              autoComplete="off"
              spellCheck={false}
              value={draft.cookieFile}
              onChange={(e) => set('cookieFile', e.target.value)}
            />
          )}
        </Field>
        <OverrideNote variable={overrideOf(settings, 'chain.rpc_cookie_file')} />
        <Field
          label="Electrum server"
          hint="Instead of a node of your own: tcp://HOST:PORT or ssl://HOST:PORT (TLS). When set, the node fields above are not used."
          error={errors.electrumUrl}
        >
          {(control) => (
            <input
              {...control}
              inputMode="url"
              autoComplete="off"
              spellCheck={false}
              value={draft.electrumUrl}
              onChange={(e) => set('electrumUrl', e.target.value)}
            />
          )}
        </Field>
        <OverrideNote variable={overrideOf(settings, 'chain.electrum_url')} />
        <Field
          label="Server certificate (SHA-256)"
          hint="Only for an ssl:// server with a self-signed certificate: its fingerprint, as the server’s operator gives it (AB:CD:…). A test without it names the fingerprint the server shows; compare before you trust it."
          error={errors.electrumCert}
        >
          {(control) => (
            <input
              {...control}
              autoComplete="off"
              spellCheck={false}
              value={draft.electrumCert}
              onChange={(e) => set('electrumCert', e.target.value)}
            />
          )}
        </Field>
        <OverrideNote variable={overrideOf(settings, 'chain.electrum_cert_sha256')} />

        <div className="chain-result" aria-live="polite">
          {test.isSuccess ? (
            <p className="success-note" data-testid="chain-check">
              {checkText(test.data)}
            </p>
          ) : null}
          {test.isError ? <CoreError error={test.error} /> : null}
        </div>
        {save.isError ? <CoreError error={save.error} /> : null}
        <div className="form-actions">
          <button
            type="button"
            className="button"
            disabled={busy || !namesBackend(draft)}
            onClick={() => {
              setNote(null);
              if (checked()) test.mutate(edit());
            }}
          >
            {test.isPending ? 'Testing…' : 'Test connection'}
          </button>
          {unconfirmed ? (
            <button type="button" className="button button--danger" disabled={busy} onClick={store}>
              Save anyway
            </button>
          ) : null}
          <button type="submit" className="button button--primary" disabled={busy}>
            {save.isPending ? 'Saving…' : 'Save chain backend'}
          </button>
        </div>
        <SavedNote text={note} />
      </form>
    </SettingsSection>
  );
}

function dialNote(saved: SavedConnection): string {
  const reached = saved.dialled.filter((d) => d.error === null).length;
  const missed = saved.dialled.filter((d) => d.error !== null);
  const parts = ['Saved to souk.toml.'];
  if (reached > 0) parts.push(`Connected to ${reached.toString()} new bootstrap peer${reached === 1 ? '' : 's'} now.`);
  for (const d of missed) parts.push(`Could not reach ${d.addr} now: ${d.error ?? ''}.`);
  if (saved.settings.restart_needed) parts.push('The list is used in full from Souk’s next start.');
  return parts.join(' ');
}

/** The peers Souk joins the network through; new ones are dialled when saved. */
function BootstrapSection({ settings }: { settings: ConnectionSettings }) {
  const [text, setText] = useState(() => settings.saved.bootstrap.join('\n'));
  const [tor, setTor] = useState(settings.saved.tor);
  const [attempted, setAttempted] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const save = useSaveConnection();
  const fieldRef = useRef<HTMLTextAreaElement>(null);
  const lines = bootstrapLines(text);
  const error = attempted ? validateBootstrap(lines, tor) : undefined;
  const extra = settings.running.bootstrap.filter((a) => !settings.saved.bootstrap.includes(a));

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setAttempted(true);
    setNote(null);
    if (validateBootstrap(lines, tor)) {
      fieldRef.current?.focus();
      return;
    }
    // The chain part is sent as saved (password kept): only the list changes.
    save.mutate(connectionEdit(chainDraftOf(settings.saved), lines, tor), {
      onSuccess: (saved) => setNote(dialNote(saved)),
    });
  }

  return (
    <SettingsSection
      title="Bootstrap peers"
      intro="Souk joins the network through these peers (and finds others on your local network). Another Souk user’s Network screen lists addresses to use."
      testId="settings-bootstrap"
    >
      <form className="form" noValidate aria-label="Bootstrap peers" onSubmit={submit}>
        <Field
          label="Bootstrap peers"
          hint="One multiaddr per line, ending in /p2p/<PeerId>, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…"
          error={error}
        >
          {(control) => (
            <textarea
              {...control}
              ref={fieldRef}
              rows={4}
              spellCheck={false}
              value={text}
              onChange={(e) => {
                setText(e.target.value);
                setNote(null);
                save.reset();
              }}
            />
          )}
        </Field>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={tor}
            aria-describedby="tor-mode-hint"
            onChange={(e) => {
              setTor(e.target.checked);
              setNote(null);
              save.reset();
            }}
          />
          Tor mode: connect only through Tor
        </label>
        <p className="muted" id="tor-mode-hint">
          Souk then starts its own Tor (install the <code>tor</code> package), is reachable only at its .onion
          address and reaches only onion addresses, so the peers above must be /onion3/… ones. Applies from
          the next start. The chain backend is not reached through Tor.
        </p>
        {settings.running.tor ? (
          <p className="muted" data-testid="tor-running">
            Running in Tor mode now.
          </p>
        ) : null}
        {extra.length > 0 ? (
          <p className="muted" data-testid="bootstrap-running">
            Also in use now (given on the command line): {extra.join(', ')}
          </p>
        ) : null}
        {save.isError ? <CoreError error={save.error} /> : null}
        <div className="form-actions">
          <button type="submit" className="button button--primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : 'Save bootstrap peers'}
          </button>
        </div>
        <SavedNote text={note} />
      </form>
    </SettingsSection>
  );
}

/** The settings that live in souk.toml: chain backend and bootstrap peers. */
export function ConnectionSections() {
  const settings = useConnectionSettings();
  if (settings.isPending) {
    return (
      <p role="status" className="muted">
        Reading souk.toml…
      </p>
    );
  }
  if (settings.isError) {
    return (
      <ErrorAlert error={settings.error}>
        <button type="button" className="button button--small" onClick={() => void settings.refetch()}>
          Try again
        </button>
      </ErrorAlert>
    );
  }
  const data = settings.data;
  return (
    <>
      <p className="muted" data-testid="connection-file">
        The chain backend and bootstrap peers are kept in <code className="path">{data.path}</code>, with any
        comments you wrote there. Changes take effect when Souk starts next; new bootstrap peers are also
        dialled at once.
      </p>
      {data.restart_needed ? (
        <p className="warning" role="status" data-testid="restart-needed">
          Restart Souk to use the saved settings.
        </p>
      ) : null}
      <ChainSection settings={data} />
      <BootstrapSection settings={data} />
    </>
  );
}
