import { useId } from 'react';
import type { ReactNode } from 'react';

interface SettingsSectionProps {
  title: string;
  /** One line under the title saying what the section is for. */
  intro?: ReactNode;
  children: ReactNode;
  testId?: string;
}

/** One labelled section of the Settings screen. */
export function SettingsSection({ title, intro, children, testId }: SettingsSectionProps) {
  const id = useId();
  return (
    <section className="settings-section" aria-labelledby={id} data-testid={testId}>
      <h2 id={id}>{title}</h2>
      {intro ? <p className="muted">{intro}</p> : null}
      {children}
    </section>
  );
}

/** A save that went through, announced politely; `null` shows nothing (the line keeps its place). */
export function SavedNote({ text }: { text: string | null }) {
  return (
    <p className="settings-saved" role="status">
      {text ?? ''}
    </p>
  );
}
