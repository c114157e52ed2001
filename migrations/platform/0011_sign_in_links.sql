-- Mailed sign-in links, offered to an owner whose address is slowed by failed passwords: a
-- new purpose for single-use tokens. Expand-only: the running code never writes it.
ALTER TABLE platform.login_tokens
    DROP CONSTRAINT login_tokens_purpose_known,
    ADD CONSTRAINT login_tokens_purpose_known
        CHECK (purpose IN ('login', 'verify_email', 'password_reset', 'sign_in_link'));
