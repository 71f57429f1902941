import type { ReactNode } from 'react';

export function SectionPage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="section-page" aria-labelledby="section-title">
      <h1 id="section-title">{title}</h1>
      {children}
    </section>
  );
}
