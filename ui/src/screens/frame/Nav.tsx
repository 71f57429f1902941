import { SECTIONS } from './sections';
import type { SectionId } from './sections';

interface NavProps {
  current: SectionId;
  onSelect: (section: SectionId) => void;
  /** Unread counts shown next to a section's name. */
  badges?: Partial<Record<SectionId, number>>;
}

export function Nav({ current, onSelect, badges = {} }: NavProps) {
  return (
    <nav className="frame-nav" aria-label="Main">
      <ul className="nav-list">
        {SECTIONS.map((section) => (
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
                  <span className="visually-hidden"> unread</span>
                </span>
              ) : null}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
