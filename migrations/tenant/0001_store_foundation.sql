-- The foundation of every store: its settings and its outbox.
-- Applied inside a tenant transaction, so names are unqualified and land in the tenant's schema.

CREATE TABLE schema_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE settings (
    singleton     boolean     PRIMARY KEY DEFAULT true CONSTRAINT settings_singleton CHECK (singleton),
    name          text        NOT NULL CONSTRAINT settings_name_present CHECK (length(btrim(name)) > 0),
    contact_email text        NOT NULL,
    currency      text        NOT NULL DEFAULT 'USD' CONSTRAINT settings_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    timezone      text        NOT NULL DEFAULT 'UTC',
    locale        text        NOT NULL DEFAULT 'en',
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: a row is written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    attempts     integer     NOT NULL DEFAULT 0,
    delivered_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (available_at) WHERE delivered_at IS NULL;
