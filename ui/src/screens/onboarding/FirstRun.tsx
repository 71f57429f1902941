import { useState } from 'react';
import type { CreatedIdentity } from '../../bindings';
import { CreateIdentity } from './CreateIdentity';
import { RestoreBackup } from './RestoreBackup';
import { RestoreIdentity } from './RestoreIdentity';
import { Welcome } from './Welcome';

type Step = 'welcome' | 'create' | 'restore' | 'import';

interface FirstRunProps {
  onCreated: (created: CreatedIdentity) => void;
}

export function FirstRun({ onCreated }: FirstRunProps) {
  const [step, setStep] = useState<Step>('welcome');
  const back = () => setStep('welcome');

  switch (step) {
    case 'welcome':
      return (
        <Welcome
          onCreate={() => setStep('create')}
          onRestore={() => setStep('restore')}
          onImport={() => setStep('import')}
        />
      );
    case 'create':
      return <CreateIdentity onCreated={onCreated} onBack={back} />;
    case 'restore':
      return <RestoreIdentity onBack={back} />;
    case 'import':
      return <RestoreBackup onBack={back} />;
  }
}
