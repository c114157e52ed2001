-- Sessions, one-time login tokens and rate-limit counters: kept in PostgreSQL so they
-- survive restarts and work across app nodes.

CREATE TABLE sessions (
    id         text        PRIMARY KEY,
    data       jsonb       NOT NULL,
    -- Copied out of `data` on save so "log out everywhere" is one DELETE.
    user_id    uuid        REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Single-use, short-lived tokens that carry a login from the platform host to a store's
-- host (signup) and, later, email verification and password reset links. Only a hash is kept.
CREATE TABLE login_tokens (
    token_hash text        PRIMARY KEY,
    purpose    text        NOT NULL CONSTRAINT login_tokens_purpose_known
                           CHECK (purpose IN ('login', 'verify_email', 'password_reset')),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  uuid        REFERENCES tenants (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_tokens_expires ON login_tokens (expires_at);

-- Fixed-window counters: one row per key (e.g. "login:ip:203.0.113.7").
CREATE TABLE rate_limits (
    key          text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL
);
