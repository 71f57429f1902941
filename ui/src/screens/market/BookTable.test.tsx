import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BookEntry } from '../../bindings';
import { fakeEntry } from '../../test/fakeBackend';
import { BookTable, WINDOW_FROM } from './BookTable';

/** What a browser would measure: the scroll box shows ten rows of 37 px. */
const BOX_PX = 370;
const ROW_PX = 37;

function entries(n: number): BookEntry[] {
  return Array.from({ length: n }, (_, i) => fakeEntry({ id: `s${i.toString()}`, price: { fixed: (60_000 + i).toString() } }));
}

function renderSide(list: BookEntry[]) {
  render(
    <BookTable
      caption="Sell offers"
      entries={list}
      price={null}
      now={Date.now()}
      emptyText="none"
      reputations={new Map()}
      onTake={() => undefined}
    />,
  );
  const box = screen.getByTestId('book-rows');
  const drawn = () =>
    within(box)
      .getAllByRole('row')
      .map((r) => r.getAttribute('data-offer-id'))
      .filter((id): id is string => id !== null);
  const spacers = () => [...box.querySelectorAll<HTMLElement>('.book-spacer')].map((s) => parseFloat(s.style.height));
  return { box, drawn, spacers };
}

/** jsdom lays nothing out: the scroll box and the rows get the sizes a browser would give them. */
function browserSizes() {
  vi.spyOn(Element.prototype, 'clientHeight', 'get').mockImplementation(function (this: Element) {
    return this.getAttribute('data-testid') === 'book-rows' ? BOX_PX : 0;
  });
  vi.spyOn(HTMLElement.prototype, 'offsetHeight', 'get').mockImplementation(function (this: HTMLElement) {
    return this.classList.contains('book-row') ? ROW_PX : 0;
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('BookTable', () => {
  it(`draws every row of a side shorter than ${WINDOW_FROM.toString()} offers`, () => {
    browserSizes();
    const { box, drawn, spacers } = renderSide(entries(WINDOW_FROM - 1));
    expect(drawn()).toHaveLength(WINDOW_FROM - 1);
    expect(spacers()).toEqual([]);
    expect(box).not.toHaveClass('book-rows--windowed');
  });

  it('draws only the rows in view of a long side, and the others as it scrolls', () => {
    browserSizes();
    const list = entries(5_000);
    const { box, drawn, spacers } = renderSide(list);
    expect(box).toHaveClass('book-rows--windowed');
    expect(screen.getByRole('table')).toHaveAttribute('aria-rowcount', '5001');

    // The top: the first rows, a spacer below standing for the rest.
    let ids = drawn();
    expect(ids[0]).toBe('s0');
    expect(ids.length).toBeGreaterThanOrEqual(BOX_PX / ROW_PX);
    expect(ids.length).toBeLessThan(50);
    expect(spacers()).toHaveLength(1);
    expect((spacers()[0] ?? 0) + ids.length * ROW_PX).toBe(5_000 * ROW_PX);

    // Scrolled to row 2,500: the rows around it, spacers above and below, the height unchanged.
    act(() => {
      box.scrollTop = 2_500 * ROW_PX;
      fireEvent.scroll(box);
    });
    ids = drawn();
    expect(ids).toContain('s2500');
    expect(ids).toContain('s2509');
    expect(ids).not.toContain('s0');
    expect(ids.length).toBeLessThan(50);
    const [above = 0, below = 0] = spacers();
    expect(above + ids.length * ROW_PX + below).toBe(5_000 * ROW_PX);
    const row = box.querySelector('[data-offer-id="s2500"]');
    expect(row).toHaveAttribute('aria-rowindex', '2502');
    expect(row).toHaveTextContent('62,500 EUR');

    // The bottom: the last offer is there, nothing below it.
    act(() => {
      box.scrollTop = 5_000 * ROW_PX - BOX_PX;
      fireEvent.scroll(box);
    });
    ids = drawn();
    expect(ids[ids.length - 1]).toBe('s4999');
    expect(spacers()).toHaveLength(1);
  });
});
