-- The search page's synonyms are kept in each node's memory with the store's frame, so
-- their table announces its changes like every other table pages read. Expand-only.
CREATE TRIGGER storefront_pages_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON search_synonyms
    FOR EACH STATEMENT EXECUTE FUNCTION storefront_pages_changed();
