import { useEffect } from 'react';
import type { Theme } from '../bindings';

/** Where the last chosen theme is remembered for the next start, before the preferences can be read. */
export const THEME_KEY = 'souk.theme';

/**
 * Applies a theme to the page: `data-theme` on the root element picks the palette in app.css;
 * `system` removes it, so the palette follows `prefers-color-scheme`.
 */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}

function isTheme(value: unknown): value is Theme {
  return value === 'system' || value === 'light' || value === 'dark';
}

/** The theme chosen last time on this device, or `system`. */
export function rememberedTheme(): Theme {
  try {
    const value = window.localStorage.getItem(THEME_KEY);
    return isTheme(value) ? value : 'system';
  } catch {
    return 'system';
  }
}

function remember(theme: Theme): void {
  try {
    window.localStorage.setItem(THEME_KEY, theme);
  } catch {
    // Storage may be off (private mode); the preferences still hold the choice.
  }
}

/** Keeps the page's theme in step with the stored preference. */
export function useTheme(theme: Theme | undefined): void {
  useEffect(() => {
    if (!theme) return;
    applyTheme(theme);
    remember(theme);
  }, [theme]);
}
