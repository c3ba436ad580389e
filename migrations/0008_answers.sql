-- Answers, and how far each invitation's customer got with it.
--
-- Every answer given is a row, on whatever channel it came (web page, app, SMS reply, sandbox). An answer that
-- changes an earlier one (the customer went back, or the app re-posted a new value) does not overwrite it: the
-- earlier row gets `replaced_at`, so what the customer first said stays in the record. Exactly one answer per
-- question is current (`replaced_at IS NULL`), which a unique index enforces whatever the code does.

CREATE TABLE answers (
    brand_id               uuid NOT NULL,
    answer_id              uuid NOT NULL DEFAULT gen_random_uuid(),
    invitation_id          uuid NOT NULL,
    customer_id            uuid NOT NULL,
    questionnaire_key      text NOT NULL,
    questionnaire_version  integer NOT NULL,
    question_id            text NOT NULL,
    value                  jsonb NOT NULL,          -- the parsed value; JSON null for a skipped optional question
    raw                    text NOT NULL,           -- what the customer sent: SMS text, form values, JSON value
    channel                text NOT NULL CHECK (channel IN ('web', 'app', 'sms', 'whatsapp', 'sandbox')),
    inbound_id             uuid,                    -- the inbound message it came in (SMS, WhatsApp, sandbox)
    answered_at            timestamptz NOT NULL,
    replaced_at            timestamptz,
    -- changed: the customer gave another answer; branch: an earlier answer changed and this question is no
    -- longer asked (or comes after the survey's early end).
    replaced_reason        text CHECK (replaced_reason IN ('changed', 'branch')),
    CHECK ((replaced_at IS NULL) = (replaced_reason IS NULL)),
    PRIMARY KEY (brand_id, answer_id)
);
CREATE UNIQUE INDEX answers_current ON answers (brand_id, invitation_id, question_id) WHERE replaced_at IS NULL;
CREATE INDEX answers_by_invitation ON answers (brand_id, invitation_id, answered_at);
-- Exports and statistics read a brand's answers by time.
CREATE INDEX answers_by_time ON answers (brand_id, answered_at);

-- The response side of an invitation, beside its send status (which stays `sent`): opened (first page view,
-- app fetch or SMS reply), partial (at least one answer), completed (the survey is over: all asked questions
-- answered, or ended early by branching), expired (its time ran out before it was completed).
-- The two intervals are the freshness figures researchers report: contact to first answer, and to completion.
ALTER TABLE invitations
    ADD COLUMN response_state text CHECK (response_state IN ('opened', 'partial', 'completed', 'expired')),
    ADD COLUMN opened_at timestamptz,
    ADD COLUMN first_answer_at timestamptz,
    ADD COLUMN last_answer_at timestamptz,
    ADD COLUMN completed_at timestamptz,
    ADD COLUMN end_reason text CHECK (end_reason IN ('completed', 'ended_early')),
    ADD COLUMN response_channel text,
    ADD COLUMN first_answer_after interval GENERATED ALWAYS AS (first_answer_at - occurred_at) STORED,
    ADD COLUMN completed_after interval GENERATED ALWAYS AS (completed_at - occurred_at) STORED,
    ADD CHECK ((response_state = 'completed') = (completed_at IS NOT NULL));

-- The sweep that marks unfinished invitations expired once their time is over.
CREATE INDEX invitations_unfinished ON invitations (expires_at)
    WHERE status = 'sent' AND (response_state IS NULL OR response_state IN ('opened', 'partial'));

-- What a customer sent on the page or from the app that was not taken as an answer: invalid, or too late (the
-- invitation completed or expired). Nothing a customer sent is lost; SMS replies are kept as inbound messages.
CREATE TABLE refused_answers (
    brand_id       uuid NOT NULL,
    refusal_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    invitation_id  uuid NOT NULL,
    customer_id    uuid NOT NULL,
    channel        text NOT NULL CHECK (channel IN ('web', 'app')),
    raw            text NOT NULL,           -- the submission as received (form values or JSON), at most 16 KiB
    reason         text NOT NULL CHECK (reason IN ('invalid', 'completed', 'expired')),
    errors         jsonb NOT NULL DEFAULT '[]',
    received_at    timestamptz NOT NULL,
    PRIMARY KEY (brand_id, refusal_id)
);
CREATE INDEX refused_answers_by_invitation ON refused_answers (brand_id, invitation_id, received_at);
