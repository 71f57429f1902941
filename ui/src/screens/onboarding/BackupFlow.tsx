import { useState } from 'react';
import { chooseConfirmationIndices } from '../../logic/confirmation';
import { ConfirmWords } from './ConfirmWords';
import { SeedWords } from './SeedWords';

interface BackupFlowProps {
  words: readonly string[];
  onComplete: () => void;
}

/** Seed words shown once, then three of them typed back. */
export function BackupFlow({ words, onComplete }: BackupFlowProps) {
  // null while the words are on screen; the asked positions once confirming.
  const [indices, setIndices] = useState<number[] | null>(null);

  if (indices === null) {
    return (
      <SeedWords words={words} onContinue={() => setIndices(chooseConfirmationIndices(words.length))} />
    );
  }
  return (
    <ConfirmWords
      words={words}
      indices={indices}
      onConfirmed={onComplete}
      onBack={() => setIndices(null)}
    />
  );
}
