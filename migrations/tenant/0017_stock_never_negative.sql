-- Stock is never negative, whoever writes it (the admin, the API, an import, a checkout):
-- the application refuses it with a message, and this constraint is the last word. Stock
-- that went negative before is set to zero, recorded like any other change.

INSERT INTO inventory_adjustments (variant_id, delta, quantity_after, reason, actor)
SELECT id, -inventory_quantity, 0, 'negative stock set to zero', 'storefront migrate'
FROM variants
WHERE inventory_quantity < 0;

UPDATE variants SET inventory_quantity = 0 WHERE inventory_quantity < 0;

ALTER TABLE variants
    ADD CONSTRAINT variants_stock_not_negative CHECK (inventory_quantity >= 0);
