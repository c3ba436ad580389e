-- Touchpoints, customers, triggers, and what ingestion writes: events, their decisions, invitations.
-- Ingestion writes event + decision + invitation in one transaction; the arq job that sends an invitation is
-- enqueued only after commit, and a sweeper re-enqueues due invitations from here if the queue lost them.

ALTER TABLE brands ADD COLUMN auto_create_touchpoints boolean NOT NULL DEFAULT false;

CREATE TABLE touchpoints (
    brand_id      uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    key           text NOT NULL,
    name          text NOT NULL,
    category      text NOT NULL CHECK (category IN ('owned', 'paid', 'earned', 'peer')),
    description   text NOT NULL DEFAULT '',
    auto_created  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, key)
);

CREATE TABLE customers (
    brand_id      uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    customer_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    external_id   text NOT NULL,
    phone         text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),          -- E.164
    locale        text,
    time_zone     text,
    push_tokens   text[] NOT NULL DEFAULT '{}',
    consents      jsonb NOT NULL DEFAULT '{}',                          -- channel -> true/false
    opted_out_at  timestamptz,
    attributes    jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, customer_id),
    UNIQUE (brand_id, external_id)
);

-- Every consent or opt-out change, with where it came from: part of the customer's timeline.
CREATE TABLE consent_changes (
    brand_id     uuid NOT NULL,
    change_id    bigint GENERATED ALWAYS AS IDENTITY,
    customer_id  uuid NOT NULL,
    channel      text NOT NULL,              -- sms, push, web, whatsapp, or 'all' for opt-out / opt-in
    granted      boolean NOT NULL,
    source       text NOT NULL,              -- api, event, sms_reply …
    changed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, change_id),
    FOREIGN KEY (brand_id, customer_id) REFERENCES customers (brand_id, customer_id) ON DELETE CASCADE
);
CREATE INDEX consent_changes_by_customer ON consent_changes (brand_id, customer_id, changed_at);

CREATE TABLE triggers (
    brand_id           uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    trigger_id         uuid NOT NULL DEFAULT gen_random_uuid(),
    key                text NOT NULL,
    touchpoint_key     text NOT NULL,
    questionnaire_key  text NOT NULL,
    active             boolean NOT NULL,
    priority           integer NOT NULL,
    definition         jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, trigger_id),
    UNIQUE (brand_id, key)
);
CREATE INDEX triggers_by_touchpoint ON triggers (brand_id, touchpoint_key) WHERE active;

CREATE TABLE events (
    brand_id          uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    event_id          uuid NOT NULL DEFAULT gen_random_uuid(),
    idempotency_key   text NOT NULL,
    -- SHA-256 of the event as submitted: a reused idempotency key with a different event is refused.
    payload_hash      bytea NOT NULL,
    touchpoint_key    text NOT NULL,
    touchpoint_known  boolean NOT NULL,
    customer_id       uuid NOT NULL,
    occurred_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    attributes        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (brand_id, event_id),
    UNIQUE (brand_id, idempotency_key),
    FOREIGN KEY (brand_id, customer_id) REFERENCES customers (brand_id, customer_id) ON DELETE CASCADE
);
CREATE INDEX events_by_customer ON events (brand_id, customer_id, occurred_at);

-- Exactly one decision per event (the primary key), always with a reason when nobody is surveyed.
CREATE TABLE decisions (
    brand_id       uuid NOT NULL,
    event_id       uuid NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('scheduled', 'not_surveyed')),
    reason         text CHECK ((outcome = 'scheduled') = (reason IS NULL)),
    trigger_id     uuid,
    invitation_id  uuid,
    planned_at     timestamptz,
    evaluations    jsonb NOT NULL DEFAULT '[]',
    decided_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, event_id),
    FOREIGN KEY (brand_id, event_id) REFERENCES events (brand_id, event_id) ON DELETE CASCADE
);

CREATE TABLE invitations (
    brand_id               uuid NOT NULL,
    invitation_id          uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id               uuid NOT NULL,
    customer_id            uuid NOT NULL,
    trigger_id             uuid NOT NULL,
    questionnaire_key      text NOT NULL,
    questionnaire_version  integer NOT NULL,
    status                 text NOT NULL CHECK (status IN
                               ('scheduled', 'sending', 'sent', 'failed', 'expired', 'suppressed', 'cancelled')),
    status_reason          text,
    occurred_at            timestamptz NOT NULL,
    planned_at             timestamptz NOT NULL,
    send_by                timestamptz NOT NULL,   -- occurred_at + max_lag: not sent after this (freshness)
    expires_at             timestamptz NOT NULL,   -- answers after this are refused
    channels               text[] NOT NULL,        -- in order of preference; the first reachable is used
    channel                text,                   -- the one actually used
    attempts               integer NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, invitation_id),
    UNIQUE (brand_id, event_id),
    FOREIGN KEY (brand_id, event_id) REFERENCES events (brand_id, event_id) ON DELETE CASCADE,
    FOREIGN KEY (brand_id, customer_id) REFERENCES customers (brand_id, customer_id) ON DELETE CASCADE,
    FOREIGN KEY (brand_id, questionnaire_key, questionnaire_version)
        REFERENCES questionnaire_versions (brand_id, key, version)
);
-- The sweeper's scan (across brands: it is the system's own job) and the frequency rules' look-back.
CREATE INDEX invitations_due ON invitations (planned_at) WHERE status = 'scheduled';
CREATE INDEX invitations_by_customer ON invitations (brand_id, customer_id, planned_at);

-- Every status change of an invitation, so that the timeline is a query.
CREATE TABLE invitation_transitions (
    brand_id       uuid NOT NULL,
    invitation_id  uuid NOT NULL,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    from_status    text,
    to_status      text NOT NULL,
    reason         text,
    at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, invitation_id, seq),
    FOREIGN KEY (brand_id, invitation_id) REFERENCES invitations (brand_id, invitation_id) ON DELETE CASCADE
);
