-- Outgoing platform mail (verification, password reset, staff invitations): written in the
-- same transaction as the action, sent by a worker with retries, so a rolled-back action
-- sends nothing and a crash loses nothing.
CREATE TABLE mail_outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_address   text        NOT NULL,
    from_address text        NOT NULL,
    reply_to     text,
    subject      text        NOT NULL,
    text_body    text        NOT NULL,
    html_body    text,
    attempts     integer     NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    dead_at      timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due ON mail_outbox (available_at) WHERE sent_at IS NULL AND dead_at IS NULL;

-- Staff invitations to a store's admin: single use, expiring, revocable.
CREATE TABLE invitations (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       text        NOT NULL CONSTRAINT invitations_email_lowercase CHECK (email = lower(email)),
    role        text        NOT NULL CONSTRAINT invitations_role_known CHECK (role IN ('admin', 'staff')),
    permissions text[]      NOT NULL DEFAULT '{}',
    token_hash  text        NOT NULL CONSTRAINT invitations_token_key UNIQUE,
    invited_by  uuid        REFERENCES users (id) ON DELETE SET NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invitations_tenant ON invitations (tenant_id);
-- One open invitation per address and store.
CREATE UNIQUE INDEX invitations_open ON invitations (tenant_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
