-- The shared platform schema: tenants, hostnames, merchant users, plans, pods.
-- Applied with search_path = platform; application queries always qualify `platform.`.

-- Code that runs without a tenant transaction resolves unqualified names here, finds
-- nothing, and fails with "relation does not exist" instead of reading a tenant's data.
CREATE SCHEMA IF NOT EXISTS no_tenant;
REVOKE ALL ON SCHEMA no_tenant FROM PUBLIC;

-- PostgreSQL clusters that hold tenant schemas. One machine has one: the default pod.
CREATE TABLE pods (
    name       text        PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pods (name) VALUES ('default');

CREATE TABLE plans (
    code           text    PRIMARY KEY,
    name           text    NOT NULL,
    price_minor    bigint  NOT NULL CONSTRAINT plans_price_not_negative CHECK (price_minor >= 0),
    currency       text    NOT NULL CONSTRAINT plans_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    product_limit  integer,
    staff_limit    integer,
    features       jsonb   NOT NULL DEFAULT '[]',
    position       integer NOT NULL DEFAULT 0
);
INSERT INTO plans (code, name, price_minor, currency, product_limit, staff_limit, features, position) VALUES
    ('starter', 'Starter',  0,     'USD', 100,  2,    '["Online store", "Unlimited orders"]', 1),
    ('growth',  'Growth',   2900,  'USD', 5000, 10,   '["Online store", "Unlimited orders", "Custom domain", "Discount codes"]', 2),
    ('scale',   'Scale',    9900,  'USD', NULL, NULL, '["Online store", "Unlimited orders", "Custom domain", "Discount codes", "API access", "Priority support"]', 3);

CREATE TABLE tenants (
    id             uuid        PRIMARY KEY,
    subdomain      text        NOT NULL CONSTRAINT tenants_subdomain_key UNIQUE,
    schema_name    text        NOT NULL CONSTRAINT tenants_schema_name_key UNIQUE
                               CONSTRAINT tenants_schema_name_format CHECK (schema_name ~ '^t_[0-9a-z]{10}$'),
    name           text        NOT NULL,
    status         text        NOT NULL DEFAULT 'active'
                               CONSTRAINT tenants_status_known CHECK (status IN ('active', 'suspended')),
    plan_code      text        NOT NULL DEFAULT 'starter' REFERENCES plans (code),
    pod            text        NOT NULL DEFAULT 'default' REFERENCES pods (name),
    -- Highest tenant migration applied to the schema (mirrors the schema's own schema_migrations,
    -- written in the same transaction) so `migrate` finds the tenants behind without visiting all.
    schema_version bigint      NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_schema_version ON tenants (schema_version);

-- Hostnames that serve a tenant. A subdomain row holds the bare label ("acme"), so the
-- platform domain can change; a custom domain row holds the full name ("shop.example.com").
CREATE TABLE hostnames (
    hostname    text        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        text        NOT NULL CONSTRAINT hostnames_kind_known CHECK (kind IN ('subdomain', 'custom')),
    is_primary  boolean     NOT NULL DEFAULT false,
    verified_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT hostnames_lowercase CHECK (hostname = lower(hostname))
);
CREATE INDEX hostnames_tenant ON hostnames (tenant_id);

CREATE TABLE users (
    id                uuid        PRIMARY KEY,
    email             text        NOT NULL CONSTRAINT users_email_key UNIQUE
                                  CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    password_hash     text        NOT NULL,
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role        text        NOT NULL CONSTRAINT memberships_role_known CHECK (role IN ('owner', 'admin', 'staff')),
    permissions text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
