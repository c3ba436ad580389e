-- Tenants and their API keys.
-- Every brand-owned table carries brand_id first in its primary key and in every unique key, and every query
-- filters by it: tenants stay apart, and the data can later be distributed by brand.

CREATE TABLE brands (
    brand_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A key is "lxt_<prefix>_<secret>". Only the SHA-256 of the whole key is stored: keys are 256-bit random
-- values, so a slow password hash would add nothing but latency on every request. The prefix identifies a key
-- in lists and logs without revealing it.
CREATE TABLE api_keys (
    brand_id      uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    key_id        uuid NOT NULL DEFAULT gen_random_uuid(),
    prefix        text NOT NULL CHECK (prefix ~ '^[a-z0-9]{8,16}$'),
    key_hash      bytea NOT NULL CHECK (length(key_hash) = 32),
    scopes        text[] NOT NULL CHECK (scopes <@ ARRAY['ingest', 'manage', 'export']::text[]
                                         AND cardinality(scopes) > 0),
    name          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    PRIMARY KEY (brand_id, key_id),
    UNIQUE (brand_id, prefix)
);
-- Authentication looks a key up by its hash, before the brand is known.
CREATE INDEX api_keys_by_hash ON api_keys (key_hash);

-- Workers report here every minute; /ready shows how many are alive.
CREATE TABLE worker_heartbeats (
    worker_id   text PRIMARY KEY,
    hostname    text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL
);
