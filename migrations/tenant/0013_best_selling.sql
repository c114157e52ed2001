-- Best selling and "bought together": units sold per product, kept by the order state
-- machine (tenant-store/src/orders/sales.rs) in the same transaction as the change that
-- makes an order count, and an index to find the latest orders containing a product.
-- Expand-only.

ALTER TABLE products ADD COLUMN units_sold bigint NOT NULL DEFAULT 0;

-- Existing orders, by the same rule as sales.rs: open orders whose payment went through
-- (paid or partially refunded); a line a refund restocked counts only its shipped units.
UPDATE products p SET units_sold = s.units
FROM (
    SELECT l.product_id,
           sum(CASE WHEN EXISTS (SELECT 1 FROM stock_reservations r
                                 WHERE r.order_id = l.order_id AND r.variant_id = l.variant_id
                                   AND r.state = 'released')
                    THEN l.fulfilled_quantity ELSE l.quantity END)::bigint AS units
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE o.status = 'open' AND o.financial_status IN ('paid', 'partially_refunded')
      AND l.product_id IS NOT NULL
    GROUP BY l.product_id
) s
WHERE p.id = s.product_id AND s.units <> 0;

-- Storefront "Best selling": most units first, then newest, keyset-paginated.
CREATE INDEX products_shop_best_selling ON products (units_sold DESC, published_at DESC, id DESC)
    WHERE status = 'active';

-- The latest orders containing a product (order ids are UUIDv7, so time-ordered).
CREATE INDEX order_lines_product ON order_lines (product_id, order_id DESC)
    WHERE product_id IS NOT NULL;
