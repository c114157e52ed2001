-- Platform operators and the audit log of what they did.

CREATE TABLE operators (
    user_id    uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE operator_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator_id uuid        REFERENCES users (id) ON DELETE SET NULL,
    action      text        NOT NULL,
    -- Kept as plain values, not a foreign key: the record outlives a deleted tenant.
    tenant_id   uuid,
    subdomain   text,
    details     jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_audit_created ON operator_audit (created_at DESC);
