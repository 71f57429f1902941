import { useEffect, useState } from 'react';
import type { RefObject } from 'react';

/** Moves focus to the form control with the given name, if it exists. */
export function focusField(form: HTMLFormElement, name: string): void {
  const element = form.elements.namedItem(name);
  if (element instanceof HTMLElement) element.focus();
}

/**
 * Focus for a refused submit: call the returned function when a submit is refused, and once the
 * errors are on screen the first invalid control inside `container` gets the focus.
 */
export function useFocusFirstInvalid(container: RefObject<HTMLElement | null>): () => void {
  const [refusals, setRefusals] = useState(0);
  useEffect(() => {
    if (refusals > 0) container.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [refusals, container]);
  return () => setRefusals((n) => n + 1);
}
