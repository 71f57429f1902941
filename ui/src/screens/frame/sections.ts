export type SectionId = 'market' | 'post' | 'offers' | 'trades' | 'network' | 'settings';

export interface Section {
  id: SectionId;
  label: string;
}

export const SECTIONS: readonly Section[] = [
  { id: 'market', label: 'Market' },
  { id: 'post', label: 'Post offer' },
  { id: 'offers', label: 'My offers' },
  { id: 'trades', label: 'Trades' },
  { id: 'network', label: 'Network' },
  { id: 'settings', label: 'Settings' },
];
