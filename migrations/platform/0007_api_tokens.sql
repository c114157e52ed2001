-- Bearer tokens for the JSON Admin API (`/admin/api/v1/...`). A token belongs to one tenant
-- and carries scopes (`products:read`, ...). Only a SHA-256 of the token is kept: the token
-- itself is shown once, when it is created.

CREATE TABLE api_tokens (
    id           uuid        PRIMARY KEY,
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text        NOT NULL CONSTRAINT api_tokens_name_length
                             CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    scopes       text[]      NOT NULL CONSTRAINT api_tokens_scopes_present
                             CHECK (cardinality(scopes) > 0),
    token_hash   text        NOT NULL CONSTRAINT api_tokens_token_hash_key UNIQUE,
    -- The merchant who created it; NULL for tokens made with `storefront token create`.
    created_by   uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at);
-- The name appears in the store's audit log (`api:<name>`): among live tokens it says which.
CREATE UNIQUE INDEX api_tokens_live_name_key ON api_tokens (tenant_id, lower(btrim(name)))
    WHERE revoked_at IS NULL;
