-- Search indexing: a commit-safe read position for outbox consumers, a wake-up for the
-- indexers, each node's indexing position, and merchant synonyms. Expand-only.

-- Identity ids are handed out when rows are inserted, not when they commit: a consumer that
-- resumes "after id N" could miss a row inserted with a smaller id that commits later. So
-- every statement writing events first takes this store's outbox lock in shared mode (before
-- any id is drawn), and a consumer that briefly takes it exclusively learns a bound below
-- which every id is final (see tenant_store::catalog::search_feed::settled_outbox_id).
-- Writers never wait for each other; they pause only during a consumer's short exclusive hold.
CREATE FUNCTION outbox_lock_for_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1936876904, hashtext(TG_TABLE_SCHEMA));
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_lock_for_write BEFORE INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_lock_for_write();

-- Wake the search indexers (every app node LISTENs) when events are written: one
-- notification per transaction and schema, delivered at commit.
CREATE FUNCTION outbox_notify_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenant_outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify_search AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_search();

-- One row per app node's search index of this store: a row lock claims the indexing work
-- (FOR UPDATE SKIP LOCKED), and the position mirrors the one committed in the index itself
-- (which is the truth), for lag reporting without opening indexes.
CREATE TABLE search_consumers (
    node       text        PRIMARY KEY,
    applied_id bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Merchant-defined synonyms: every term of a group finds products matching any other.
CREATE TABLE search_synonyms (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    terms      text[]      NOT NULL CONSTRAINT search_synonyms_two_terms CHECK (cardinality(terms) >= 2),
    created_at timestamptz NOT NULL DEFAULT now()
);
