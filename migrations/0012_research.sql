-- Research: pseudonyms for exports, the export_pii scope, retention and erasure settings, the audit log, and
-- the research dashboard's sessions.

-- A key may carry `export_pii`: exports then include phone numbers, push tokens and customer attributes. It admits
-- everything `export` admits; without it, exports are pseudonymised and carry no contact data.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['ingest', 'manage', 'export', 'export_pii']::text[] AND cardinality(scopes) > 0);

-- The brand's secret for pseudonyms: an export names a customer by HMAC-SHA256(pseudonym_key, customer_id), stable
-- across the brand's exports and unrelated across brands. It is a key, not a credential (it admits nobody), so it
-- is kept as is; no API returns it. 32 bytes from two random UUIDs (pg_strong_random, 244 random bits).
ALTER TABLE brands
    ADD COLUMN pseudonym_key bytea NOT NULL
        DEFAULT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()),
    -- After this long, raw events, messages and answers are anonymised by the retention job; NULL keeps them.
    ADD COLUMN retention interval CHECK (retention >= interval '1 day'),
    -- What erasing a customer does with what remains once the personal data is gone: `anonymise` keeps coded answers
    -- and the event history unlinked from any person (they still count in statistics); `delete` removes them too.
    ADD COLUMN erasure text NOT NULL DEFAULT 'anonymise' CHECK (erasure IN ('anonymise', 'delete'));

-- Who did what to which data, and when: erasures, retention runs, exports. Never holds the personal data it is
-- about (an erased customer is named by pseudonym). Kept when a customer is erased; removed with the brand.
CREATE TABLE audit_log (
    brand_id     uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    audit_id     bigint GENERATED ALWAYS AS IDENTITY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,    -- 'key:<prefix>', 'cli', 'retention', 'dashboard:<prefix>'
    action       text NOT NULL,    -- 'customer_erased', 'retention_applied', 'export', …
    subject      text NOT NULL DEFAULT '',
    details      jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (brand_id, audit_id)
);
CREATE INDEX audit_log_by_time ON audit_log (brand_id, at);

-- The dashboard signs in with an export key and keeps a session cookie. Only the cookie token's SHA-256 is stored;
-- a session ends when it expires, when signed out, or when its key is revoked.
CREATE TABLE dashboard_sessions (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    brand_id     uuid NOT NULL,
    key_id       uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    FOREIGN KEY (brand_id, key_id) REFERENCES api_keys (brand_id, key_id) ON DELETE CASCADE
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);
