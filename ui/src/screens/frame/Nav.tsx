import { SECTIONS } from './sections';
import type { SectionId } from './sections';

interface NavProps {
  current: SectionId;
  onSelect: (section: SectionId) => void;
}

export function Nav({ current, onSelect }: NavProps) {
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
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
