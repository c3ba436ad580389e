-- Touchpoints, customers, triggers, and what ingestion writes: events with their decisions, invitations.
-- Ingestion writes event + decision + invitation in one transaction; the arq job that sends an invitation is
-- enqueued only after commit, and a sweeper re-enqueues due invitations from here if the queue lost them.
--
-- The tables written by ingestion (customers, events, invitations, consent_changes, invitation_transitions)
-- carry no foreign keys: their rows are written by the one transaction that also creates or locks the rows
-- they point at, and a foreign key is a trigger query per inserted row, which cost more than the inserts
-- themselves in bulk ingestion. Nothing deletes from them but an explicit per-brand cleanup.

ALTER TABLE brands
    ADD COLUMN auto_create_touchpoints boolean NOT NULL DEFAULT false,
    -- Contact rules over all of the brand's triggers, on top of each trigger's own (NULL: none).
    ADD COLUMN survey_gap interval CHECK (survey_gap > interval '0'),
    ADD COLUMN daily_survey_cap integer CHECK (daily_survey_cap BETWEEN 1 AND 100);

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
    brand_id      uuid NOT NULL,
    customer_id   uuid NOT NULL,
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
    PRIMARY KEY (brand_id, change_id)
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

-- One row per event, with its decision: exactly one decision per event, written in the same statement.
CREATE TABLE events (
    brand_id          uuid NOT NULL,
    event_id          uuid NOT NULL,
    idempotency_key   text NOT NULL,
    -- SHA-256 of the event as submitted: a reused idempotency key with a different event is refused.
    payload_hash      bytea NOT NULL,
    touchpoint_key    text NOT NULL,
    touchpoint_known  boolean NOT NULL,
    customer_id       uuid NOT NULL,
    occurred_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    attributes        jsonb NOT NULL DEFAULT '{}',
    -- The decision.
    outcome           text NOT NULL CHECK (outcome IN ('scheduled', 'not_surveyed')),
    reason            text CHECK ((outcome = 'scheduled') = (reason IS NULL)),
    trigger_id        uuid,
    invitation_id     uuid CHECK ((outcome = 'scheduled') = (invitation_id IS NOT NULL)),
    planned_at        timestamptz,
    evaluations       jsonb NOT NULL DEFAULT '[]',  -- what each trigger looked at made of the event
    PRIMARY KEY (brand_id, event_id),
    UNIQUE (brand_id, idempotency_key)
);
CREATE INDEX events_by_customer ON events (brand_id, customer_id, occurred_at);

CREATE TABLE invitations (
    brand_id               uuid NOT NULL,
    invitation_id          uuid NOT NULL,
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
    PRIMARY KEY (brand_id, invitation_id)
);
-- The sweeper's scan (across brands: it is the system's own job) and the frequency rules' look-back.
CREATE INDEX invitations_due ON invitations (planned_at) WHERE status = 'scheduled';
CREATE INDEX invitations_by_customer ON invitations (brand_id, customer_id, planned_at);

-- Every status change of an invitation after it was scheduled (its creation is the invitation row itself),
-- so that the timeline is a query.
CREATE TABLE invitation_transitions (
    brand_id       uuid NOT NULL,
    invitation_id  uuid NOT NULL,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    from_status    text,
    to_status      text NOT NULL,
    reason         text,
    at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, invitation_id, seq)
);
