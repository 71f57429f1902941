import { useState } from 'react';
import type { FormEvent } from 'react';
import { CardScreen } from '../../components/CardScreen';
import { Field } from '../../components/Field';
import { focusField } from '../../components/focus';
import { checkConfirmation } from '../../logic/confirmation';

interface ConfirmWordsProps {
  words: readonly string[];
  /** Zero-based positions the user must type. */
  indices: readonly number[];
  onConfirmed: () => void;
  onBack: () => void;
}

const fieldName = (index: number) => `word-${index + 1}`;

export function ConfirmWords({ words, indices, onConfirmed, onBack }: ConfirmWordsProps) {
  const [answers, setAnswers] = useState<string[]>(() => indices.map(() => ''));
  const [results, setResults] = useState<boolean[] | null>(null);

  function setAnswer(position: number, value: string) {
    setAnswers((current) => current.map((answer, i) => (i === position ? value : answer)));
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const checked = checkConfirmation(words, indices, answers);
    setResults(checked);
    const firstWrong = checked.indexOf(false);
    if (firstWrong === -1) {
      onConfirmed();
      return;
    }
    const wrongIndex = indices[firstWrong];
    if (wrongIndex !== undefined) focusField(event.currentTarget, fieldName(wrongIndex));
  }

  return (
    <CardScreen>
      <h1>Confirm your backup</h1>
      <p className="lead">Type the following words from your written copy to show it is complete.</p>
      <form className="form" noValidate onSubmit={submit}>
        {indices.map((wordIndex, position) => {
          const wrong = results !== null && results[position] === false;
          return (
            <Field
              key={wordIndex}
              label={`Word #${wordIndex + 1}`}
              error={wrong ? `That is not word #${wordIndex + 1}. Check your written copy.` : undefined}
            >
              {(control) => (
                <input
                  {...control}
                  name={fieldName(wordIndex)}
                  type="text"
                  autoComplete="off"
                  autoCapitalize="none"
                  autoCorrect="off"
                  spellCheck={false}
                  value={answers[position] ?? ''}
                  onChange={(event) => setAnswer(position, event.target.value)}
                />
              )}
            </Field>
          );
        })}
        <div className="form-actions">
          <button type="button" className="button button--ghost" onClick={onBack}>
            Show the words again
          </button>
          <button type="submit" className="button button--primary">
            Confirm
          </button>
        </div>
      </form>
    </CardScreen>
  );
}
