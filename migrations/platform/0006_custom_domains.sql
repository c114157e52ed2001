-- Custom domains: the token a merchant publishes in DNS to prove a domain is theirs, and the
-- outcome of the last DNS check so the admin can say what is still missing.

ALTER TABLE hostnames ADD COLUMN verification_token text;
ALTER TABLE hostnames ADD COLUMN last_checked_at timestamptz;
ALTER TABLE hostnames ADD COLUMN last_check_error text;

-- A tenant has at most one primary hostname; the redirect to it must be unambiguous.
CREATE UNIQUE INDEX hostnames_one_primary_per_tenant ON hostnames (tenant_id) WHERE is_primary;
