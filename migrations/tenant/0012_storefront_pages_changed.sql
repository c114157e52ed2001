-- Every table a storefront page reads announces its changes, so each app node can drop
-- this store's cached pages the moment a change commits, whoever made it (admin, API,
-- import, a checkout taking stock). One notification per transaction and schema (PostgreSQL
-- folds repeats), delivered at commit; nothing on rollback. A table added later that pages
-- read gets the same trigger (a test lists every tenant table as announcing or not read
-- by pages). Expand-only.
CREATE FUNCTION storefront_pages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('storefront_pages', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_handle_redirects
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_options
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON variants
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_images
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON collections
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON collection_rules
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON collection_products
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pages
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON page_handle_redirects
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blogs
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON article_handle_redirects
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON menus
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON menu_items
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON theme_templates
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
-- Products bought together are suggested on product pages.
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON order_lines
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
-- ... counting only orders that are open and paid: their state changes matter too.
CREATE TRIGGER storefront_pages_changed
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF status, financial_status ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
