export type SectionId = 'market' | 'post' | 'offers' | 'trades' | 'disputes' | 'network' | 'settings';

export interface Section {
  id: SectionId;
  label: string;
}

export const SECTIONS: readonly Section[] = [
  { id: 'market', label: 'Market' },
  { id: 'post', label: 'Post offer' },
  { id: 'offers', label: 'My offers' },
  { id: 'trades', label: 'Trades' },
  { id: 'disputes', label: 'Disputes' },
  { id: 'network', label: 'Network' },
  { id: 'settings', label: 'Settings' },
];

/** The sections this node shows: Disputes only for an arbitrator. */
export function sectionsFor(arbitrator: boolean): readonly Section[] {
  return SECTIONS.filter((s) => s.id !== 'disputes' || arbitrator);
}
