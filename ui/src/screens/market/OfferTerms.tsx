/** Free-text terms from a maker: always rendered as text (React escapes it), never as HTML. */
export function OfferTerms({ terms }: { terms: string }) {
  if (!terms) return <span className="muted">—</span>;
  return (
    <span className="offer-terms" title={terms} data-testid="offer-terms">
      {terms}
    </span>
  );
}
