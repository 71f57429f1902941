import { useId, useState } from 'react';
import { CardScreen } from '../../components/CardScreen';

interface SeedWordsProps {
  words: readonly string[];
  onContinue: () => void;
}

/** The one and only display of the seed words. */
export function SeedWords({ words, onContinue }: SeedWordsProps) {
  const [acknowledged, setAcknowledged] = useState(false);
  const warningId = useId();

  return (
    <CardScreen wide>
      <h1>Write down your seed words</h1>
      <div className="warning" id={warningId}>
        <p>
          <strong>These {words.length} words are shown only once.</strong> They are the only backup
          of your identity: Souk cannot show them again, and nobody can recover your identity
          without them.
        </p>
        <p>
          Write them down in order and keep them offline. Anyone who has them can take over your
          identity.
        </p>
      </div>
      <ol className="seed-grid" aria-label="Seed words" aria-describedby={warningId}>
        {words.map((word, index) => (
          <li className="seed-cell" key={index}>
            <span className="seed-index">{index + 1}.</span>
            <span className="seed-word">{word}</span>
          </li>
        ))}
      </ol>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={acknowledged}
          onChange={(event) => setAcknowledged(event.target.checked)}
        />
        <span>I have written down all {words.length} words in order</span>
      </label>
      <div className="form-actions">
        <button
          type="button"
          className="button button--primary"
          disabled={!acknowledged}
          onClick={onContinue}
        >
          Continue
        </button>
      </div>
    </CardScreen>
  );
}
