import type { Section, SectionId } from './sections';

interface NavProps {
  sections: readonly Section[];
  current: SectionId;
  onSelect: (section: SectionId) => void;
  /** Counts shown next to a section's name: unread messages (Trades), open disputes (Disputes). */
  badges?: Partial<Record<SectionId, number>>;
}

export function Nav({ sections, current, onSelect, badges = {} }: NavProps) {
  return (
    <nav className="frame-nav" aria-label="Main">
      <ul className="nav-list">
        {sections.map((section) => (
          <li key={section.id}>
            <button
              type="button"
              className="nav-item"
              aria-current={section.id === current ? 'page' : undefined}
              onClick={() => onSelect(section.id)}
            >
              {section.label}
              {badges[section.id] ? (
                <span className="nav-badge" data-testid={`nav-badge-${section.id}`}>
                  {badges[section.id]}
                  <span className="visually-hidden">{section.id === 'disputes' ? ' open' : ' unread'}</span>
                </span>
              ) : null}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
