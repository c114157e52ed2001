-- The search indexers were woken by every event, orders included: at a busy store each
-- wake-up took the outbox lock exclusively (see 0008) and held up every checkout writing
-- events. Now only events that can change the index wake them, and the backlog they report
-- counts only those. Expand-only (the function replaces 0008's trigger).

-- Whether an outbox event can change what the search index holds: products, collections,
-- the store's settings (its language), and stock changes that cross zero (only "in stock"
-- is indexed). Kept in step with `affected` in the platform's search indexer.
CREATE FUNCTION outbox_event_concerns_search(topic text, payload jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT topic LIKE 'product.%'
        OR topic LIKE 'collection.%'
        OR topic = 'settings.updated'
        OR (topic = 'inventory.changed' AND (
            jsonb_typeof(payload -> 'quantity') IS DISTINCT FROM 'number'
            OR jsonb_typeof(payload -> 'delta') IS DISTINCT FROM 'number'
            OR ((payload ->> 'quantity')::numeric > 0)
               <> ((payload ->> 'quantity')::numeric - (payload ->> 'delta')::numeric > 0)))
$$;

DROP TRIGGER outbox_notify_search ON outbox;
CREATE TRIGGER outbox_notify_search AFTER INSERT ON outbox
    FOR EACH ROW WHEN (outbox_event_concerns_search(NEW.topic, NEW.payload))
    EXECUTE FUNCTION outbox_notify_search();
