import { CardScreen } from '../../components/CardScreen';

interface WelcomeProps {
  onCreate: () => void;
  onRestore: () => void;
  onImport: () => void;
}

export function Welcome({ onCreate, onRestore, onImport }: WelcomeProps) {
  return (
    <CardScreen testId="first-run">
      <h1>Welcome to Souk</h1>
      <p className="lead">
        Souk trades directly between peers. Your identity is a key pair that lives only on this
        device, protected by a passphrase you choose.
      </p>
      <div className="choice-list">
        <button type="button" className="choice" onClick={onCreate}>
          <span className="choice-title">Create a new identity</span>
          <span className="choice-text">Start fresh. You will get seed words to back it up.</span>
        </button>
        <button type="button" className="choice" onClick={onRestore}>
          <span className="choice-title">Restore from seed words</span>
          <span className="choice-text">Bring back an identity you backed up earlier.</span>
        </button>
        <button type="button" className="choice" onClick={onImport}>
          <span className="choice-title">Restore from a backup file</span>
          <span className="choice-text">Bring back your identity with its trades, chats and settings.</span>
        </button>
      </div>
    </CardScreen>
  );
}
