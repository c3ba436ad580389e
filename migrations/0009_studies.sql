-- Real-time experience tracking (RET) studies: a brand recruits participants who, for a diary period, text a
-- short code for every encounter with the brand or a competitor; a pre-survey goes out on enrolment and a
-- post-survey when the diary ends, through the brand's own triggers and invitations.

-- Who reported an event: the brand's systems, lxt itself for a study's own steps (a participant enrolled, a
-- diary ended), or a participant texting a code. A self-report names the brand the encounter was with, which may
-- be a competitor's.
ALTER TABLE events
    ADD COLUMN source text NOT NULL DEFAULT 'brand' CHECK (source IN ('brand', 'study', 'self_report')),
    ADD COLUMN concerns_brand text,
    ADD CONSTRAINT events_concerns_brand_of_self_reports CHECK ((source = 'self_report') = (concerns_brand IS NOT NULL));

-- Text sent before the survey's first message (a study's welcome and its code format), fixed when the invitation
-- is scheduled, in the customer's language.
ALTER TABLE invitations ADD COLUMN preamble text;

-- A study: its code book and settings (`definition`, as submitted, defaults included), and the triggers it owns
-- (pre- and post-survey) on touchpoints of its own. `started_at` is the first enrolment: from then on the code
-- book and the surveys are fixed, so every report of the study means the same.
CREATE TABLE studies (
    brand_id         uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    study_id         uuid NOT NULL DEFAULT lxt_uuid7(),
    key              text NOT NULL,
    name             text NOT NULL,
    definition       jsonb NOT NULL,
    pre_trigger_id   uuid NOT NULL,
    post_trigger_id  uuid NOT NULL,
    started_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, study_id),
    UNIQUE (brand_id, key)
);

-- A customer enrolled in a study, with consent. The diary runs from `diary_starts_at` to `diary_ends_at`;
-- `ended_reported_at` is when the diary's end was reported as an event (once: the post-survey's trigger).
CREATE TABLE study_participants (
    brand_id           uuid NOT NULL,
    participant_id     uuid NOT NULL DEFAULT lxt_uuid7(),
    study_id           uuid NOT NULL,
    customer_id        uuid NOT NULL,
    consented_at       timestamptz NOT NULL,
    enrolled_at        timestamptz NOT NULL,
    diary_starts_at    timestamptz NOT NULL,
    diary_ends_at      timestamptz NOT NULL CHECK (diary_ends_at > diary_starts_at),
    withdrawn_at       timestamptz,
    ended_reported_at  timestamptz,
    PRIMARY KEY (brand_id, participant_id),
    UNIQUE (brand_id, study_id, customer_id),
    FOREIGN KEY (brand_id, study_id) REFERENCES studies (brand_id, study_id) ON DELETE CASCADE
);
CREATE INDEX study_participants_by_customer ON study_participants (brand_id, customer_id, diary_ends_at);
CREATE INDEX study_participants_by_enrolment ON study_participants (brand_id, study_id, enrolled_at, participant_id);
-- The worker's scan for diaries that ended and were not reported yet (across brands: the system's own job).
CREATE INDEX study_participants_ending ON study_participants (diary_ends_at)
    WHERE ended_reported_at IS NULL AND withdrawn_at IS NULL;

-- One texted code: the encounter it reports (letters as the code book had them, with what they stood for), the
-- inbound message it came in, and the event it was stored as. One per inbound message: providers retry webhooks.
CREATE TABLE self_reports (
    brand_id            uuid NOT NULL,
    report_id           uuid NOT NULL DEFAULT lxt_uuid7(),
    study_id            uuid NOT NULL,
    participant_id      uuid NOT NULL,
    customer_id         uuid NOT NULL,
    inbound_id          uuid NOT NULL,
    event_id            uuid NOT NULL,
    brand_letter        text NOT NULL CHECK (brand_letter ~ '^[A-Z]$'),
    brand_name          text NOT NULL,
    own_brand           boolean NOT NULL,
    touchpoint_letter   text NOT NULL CHECK (touchpoint_letter ~ '^[A-Z]$'),
    touchpoint_key      text NOT NULL,
    touchpoint_name     text NOT NULL,
    positivity          smallint NOT NULL CHECK (positivity BETWEEN 1 AND 5),
    persuasiveness      smallint NOT NULL CHECK (persuasiveness BETWEEN 1 AND 5),
    comment             text,
    comment_updated_at  timestamptz,
    reported_at         timestamptz NOT NULL,
    PRIMARY KEY (brand_id, report_id),
    UNIQUE (brand_id, inbound_id)
);
CREATE INDEX self_reports_by_participant ON self_reports (brand_id, participant_id, reported_at);

-- Every comment a participant wrote on a report, in order: an edit adds a row, so no earlier wording is lost.
CREATE TABLE self_report_comments (
    brand_id    uuid NOT NULL,
    report_id   uuid NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    comment     text NOT NULL,
    written_at  timestamptz NOT NULL,
    PRIMARY KEY (brand_id, report_id, seq)
);

-- Links to a participant's diary page, one per confirmation sent. Only the SHA-256 of each 256-bit token is
-- stored; the page finds its participant by that hash before it knows the brand (a hash names at most one link).
CREATE TABLE diary_links (
    brand_id        uuid NOT NULL,
    token_hash      bytea NOT NULL CHECK (length(token_hash) = 32),
    participant_id  uuid NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (brand_id, token_hash)
);
CREATE UNIQUE INDEX diary_links_by_token ON diary_links (token_hash);
