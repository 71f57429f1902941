-- Paging the book in SQL (Book::page): each offer's sort keys, amounts and payment methods as columns,
-- so a page of a market is read along an index instead of sorting the whole market in memory.
--   price_key   a fixed price per whole base coin, negated for buy offers (best first, ascending);
--               NULL for a market-relative offer
--   premium_key a market-relative offer's premium in basis points, negated for buy offers; NULL for a
--               fixed price
--   methods     the payment method ids between commas (",SEPA,REVOLUT,"), for a method filter

ALTER TABLE offers ADD COLUMN price_key REAL;
ALTER TABLE offers ADD COLUMN premium_key INTEGER;
ALTER TABLE offers ADD COLUMN min_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE offers ADD COLUMN max_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE offers ADD COLUMN methods TEXT NOT NULL DEFAULT '';

UPDATE offers SET
    price_key = CASE WHEN json_extract(offer_json, '$.price.fixed') IS NULL THEN NULL
                     WHEN side = 'buy' THEN -CAST(json_extract(offer_json, '$.price.fixed') AS REAL)
                     ELSE CAST(json_extract(offer_json, '$.price.fixed') AS REAL) END,
    premium_key = CASE WHEN side = 'buy'
                       THEN -json_extract(offer_json, '$.price.market_relative.premium_bps')
                       ELSE json_extract(offer_json, '$.price.market_relative.premium_bps') END,
    min_amount = COALESCE(json_extract(offer_json, '$.min_amount'), 0),
    max_amount = COALESCE(json_extract(offer_json, '$.max_amount'), 0),
    methods = ',' || COALESCE((SELECT group_concat(value, ',') FROM json_each(offer_json, '$.payment_methods')), '') || ',';

CREATE INDEX offers_fixed_page ON offers (base, quote, side, price_key, created_at, id)
    WHERE price_key IS NOT NULL;
CREATE INDEX offers_relative_page ON offers (base, quote, side, premium_key, created_at, id)
    WHERE premium_key IS NOT NULL;
