import type { ReactNode } from 'react';

interface CardScreenProps {
  children: ReactNode;
  wide?: boolean;
  testId?: string;
}

/** Centred single-card layout for the screens shown before the app frame. */
export function CardScreen({ children, wide = false, testId }: CardScreenProps) {
  return (
    <main className="card-screen">
      <div className={wide ? 'card card--wide' : 'card'} data-testid={testId}>
        <p className="brand brand--small" aria-hidden="true">
          Souk
        </p>
        {children}
      </div>
    </main>
  );
}
