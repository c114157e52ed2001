-- Custom domains a store has asked for but not yet proved in DNS. A claim holds nothing
-- exclusive: several stores may claim one domain, and the first whose DNS records prove it
-- gets it (a row in `hostnames`, which only verified domains and subdomains have from now
-- on), which ends every other claim on it. A claim lapses 7 days after it was made, so
-- squatting on somebody's domain is impossible and a forgotten claim goes away.

CREATE TABLE domain_claims (
    hostname           text        NOT NULL,
    tenant_id          uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    verification_token text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_checked_at    timestamptz,
    last_check_error   text,
    CONSTRAINT domain_claims_pkey PRIMARY KEY (hostname, tenant_id),
    CONSTRAINT domain_claims_lowercase CHECK (hostname = lower(hostname))
);
CREATE INDEX domain_claims_tenant ON domain_claims (tenant_id);

INSERT INTO domain_claims
    (hostname, tenant_id, verification_token, created_at, last_checked_at, last_check_error)
SELECT hostname, tenant_id, verification_token, created_at, last_checked_at, last_check_error
FROM hostnames
WHERE kind = 'custom' AND verified_at IS NULL AND verification_token IS NOT NULL;

DELETE FROM hostnames WHERE kind = 'custom' AND verified_at IS NULL;
