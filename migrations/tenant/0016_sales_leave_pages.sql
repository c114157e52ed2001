-- Sales no longer rewrite what pages show. A checkout took a variant's stock and so
-- refreshed its product's summary row (an UPDATE of products, holding the popular
-- product's row to the commit) and announced a change to every node's page cache, and
-- paying counted units sold on products and wrote orders and order lines, each
-- announced too: during a sale, a store's cached pages were dropped on every order.
-- Now:
-- * a product's summary is refreshed only when a variant changes what it sums up (price,
--   compare-at price, product, whether it can be bought), and not rewritten unchanged;
-- * a variant's change is announced unless it is only stock that pages don't show: they
--   show stock as "Sold out", "Only N left" up to 5, or "In stock" (see
--   tenant_store::catalog::STOCK_SHOWN_UP_TO);
-- * a product's change is announced unless it is only its units sold;
-- * orders and order lines announce nothing: the sales figures pages show (best selling
--   order, products bought together) may lag by PAGE_CACHE_SECS.
-- And the search indexers' wake-up condition is written out in the trigger, not called:
-- PostgreSQL parsed the function's body again for every statement writing events.
-- Expand-only: old code runs against it unchanged.

CREATE OR REPLACE FUNCTION refresh_product_summary(p uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE products SET
        price_min_minor  = COALESCE(v.min_price, 0),
        price_max_minor  = COALESCE(v.max_price, 0),
        compare_at_minor = v.compare_at,
        available        = COALESCE(v.available, false)
    FROM (
        SELECT min(price_minor) AS min_price,
               max(price_minor) AS max_price,
               max(compare_at_minor) FILTER (WHERE compare_at_minor > price_minor) AS compare_at,
               bool_or(NOT track_inventory OR inventory_quantity > 0) AS available
        FROM variants WHERE product_id = p
    ) v
    WHERE products.id = p
      AND (products.price_min_minor, products.price_max_minor, products.compare_at_minor,
           products.available)
          IS DISTINCT FROM
          (COALESCE(v.min_price, 0), COALESCE(v.max_price, 0), v.compare_at,
           COALESCE(v.available, false));
$$;

DROP TRIGGER variants_summary ON variants;
CREATE TRIGGER variants_summary AFTER INSERT OR DELETE ON variants
    FOR EACH ROW EXECUTE FUNCTION variants_changed();
CREATE TRIGGER variants_summary_updated AFTER UPDATE ON variants
    FOR EACH ROW
    WHEN (OLD.product_id IS DISTINCT FROM NEW.product_id
          OR OLD.price_minor IS DISTINCT FROM NEW.price_minor
          OR OLD.compare_at_minor IS DISTINCT FROM NEW.compare_at_minor
          OR (NOT OLD.track_inventory OR OLD.inventory_quantity > 0)
             IS DISTINCT FROM (NOT NEW.track_inventory OR NEW.inventory_quantity > 0))
    EXECUTE FUNCTION variants_changed();

DROP TRIGGER storefront_pages_changed ON variants;
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR DELETE OR TRUNCATE ON variants
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_updated AFTER UPDATE ON variants
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'inventory_quantity' - 'updated_at')
              IS DISTINCT FROM (to_jsonb(NEW) - 'inventory_quantity' - 'updated_at')
          OR (CASE WHEN OLD.track_inventory THEN least(greatest(OLD.inventory_quantity, 0), 6) END)
              IS DISTINCT FROM
             (CASE WHEN NEW.track_inventory THEN least(greatest(NEW.inventory_quantity, 0), 6) END))
    EXECUTE FUNCTION storefront_pages_changed();

DROP TRIGGER storefront_pages_changed ON products;
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_updated AFTER UPDATE ON products
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'units_sold') IS DISTINCT FROM (to_jsonb(NEW) - 'units_sold'))
    EXECUTE FUNCTION storefront_pages_changed();

DROP TRIGGER storefront_pages_changed ON orders;
DROP TRIGGER storefront_pages_changed ON order_lines;

DROP TRIGGER outbox_notify_search ON outbox;
CREATE TRIGGER outbox_notify_search AFTER INSERT ON outbox
    FOR EACH ROW
    WHEN (NEW.topic LIKE 'product.%'
          OR NEW.topic LIKE 'collection.%'
          OR NEW.topic = 'settings.updated'
          OR (NEW.topic = 'inventory.changed' AND (
              jsonb_typeof(NEW.payload -> 'quantity') IS DISTINCT FROM 'number'
              OR jsonb_typeof(NEW.payload -> 'delta') IS DISTINCT FROM 'number'
              OR ((NEW.payload ->> 'quantity')::numeric > 0)
                 <> ((NEW.payload ->> 'quantity')::numeric - (NEW.payload ->> 'delta')::numeric > 0))))
    EXECUTE FUNCTION outbox_notify_search();
