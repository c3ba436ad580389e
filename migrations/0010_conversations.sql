-- Two-way SMS and WhatsApp: conversations, what each inbound message meant, brands' messaging settings (HELP
-- text, auto-reply, their own keywords), and opt-outs that only the customer can take back.

-- A survey answered by reply. The send job writes the row just before it calls the provider with the intro and
-- first question (and closes it again if the provider does not take the message); replies find it by the
-- customer's phone and the sender they wrote to. A phone has at most one open conversation per sender and
-- channel, whichever brand holds it (`conversations_open`, below) — the partial unique index is the arbiter when
-- two sends race for one phone — so a reply always belongs to exactly one invitation; another conversation-style
-- invitation meanwhile goes as a link or waits (the trigger's `when_busy`).
CREATE TABLE conversations (
    brand_id          uuid NOT NULL,
    conversation_id   uuid NOT NULL DEFAULT lxt_uuid7(),
    invitation_id     uuid NOT NULL,
    customer_id       uuid NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
    sender            text NOT NULL,           -- the brand's From number or Messaging Service SID; 'sandbox'
    recipient         text NOT NULL,           -- the customer's phone, E.164 (without WhatsApp's prefix)
    locale            text NOT NULL,           -- the questionnaire's locale the conversation is held in
    question_id       text NOT NULL,           -- the question asked last
    reprompts         integer NOT NULL DEFAULT 0 CHECK (reprompts >= 0),  -- re-prompts of that question so far
    opened_at         timestamptz NOT NULL,
    last_activity_at  timestamptz NOT NULL,
    closed_at         timestamptz,
    -- completed: the survey is over; expired: the invitation's time ran out; gave_up: no answer could be read
    -- after the re-prompts; stopped: the customer opted out; not_sent: the provider did not take the first
    -- message; invitation_closed: the invitation ended otherwise (failed, suppressed, answered elsewhere).
    close_reason      text CHECK (close_reason IN
                          ('completed', 'expired', 'gave_up', 'stopped', 'not_sent', 'invitation_closed')),
    CHECK ((closed_at IS NULL) = (close_reason IS NULL)),
    PRIMARY KEY (brand_id, conversation_id)
);
-- One open conversation per channel, phone and sender across brands: the table's one unique key without brand_id
-- (distributed by brand, it would need a table of its own). The phone and the sender are physical: brands share
-- the default number (and may share a Messaging Service), and a customer replying to it can only be in one
-- conversation with that number, so a second brand's survey there must go as a link or wait, as another
-- invitation of the same brand would. The phone comes before the sender so that STOP, which closes a brand's
-- conversations with the phone on every sender, is a look-up too.
CREATE UNIQUE INDEX conversations_open ON conversations (channel, recipient, sender) WHERE closed_at IS NULL;
CREATE INDEX conversations_by_invitation ON conversations (brand_id, invitation_id);
-- The sweep closing conversations whose invitation is over (across brands: the system's own job). On a column no
-- reply changes, so that the update each answer makes (question, re-prompts, last activity) stays a HOT update.
CREATE INDEX conversations_open_since ON conversations (opened_at) WHERE closed_at IS NULL;

-- What each inbound message meant, the reply lxt texted back (a provider retrying the webhook gets the same
-- one), and the conversation and invitation it went to: part of the customer's timeline (read by customer and
-- time, inbound_messages_by_customer). Written by an update right after the insert, in the same transaction:
-- none of these columns is indexed, so that the update stays a HOT one on the webhook's path.
ALTER TABLE inbound_messages
    ADD COLUMN outcome text CHECK (outcome IN
        ('answer', 'reprompt', 'skipped', 'closed', 'stop', 'start', 'help', 'auto_reply', 'code', 'ignored',
         'error')),
    ADD COLUMN reply text,
    ADD COLUMN conversation_id uuid,
    ADD COLUMN invitation_id uuid;

-- A provider's message id names one message, whichever brand it was stored for: a webhook the provider retries is
-- the message stored the first time, even when the brand look-up would now say another brand (a shared sender,
-- and another brand wrote to the phone in between). So the id is unique across brands — the system's own
-- look-up, made before any brand is known, like the brand look-up itself — and replaces the per-brand key it
-- implies (one index to write on the webhook's path, not two; distributed by brand, it would need a table of its
-- own). Copies of a message such retries stored in a second brand before are dropped: the first one stays, with
-- what it meant.
DELETE FROM inbound_messages copy
USING inbound_messages first
WHERE copy.provider = first.provider AND copy.provider_message_id = first.provider_message_id
  AND (copy.received_at, copy.inbound_id) > (first.received_at, first.inbound_id);
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_brand_id_provider_provider_message_id_key;
CREATE UNIQUE INDEX inbound_messages_by_provider_id ON inbound_messages (provider, provider_message_id);

-- Every inbound message looks its brand up by the address it was sent to — across brands: the brand is what the
-- look-up finds — so that is an index look-up, not a scan of every brand's senders.
CREATE INDEX brand_senders_by_from ON brand_senders ((config->>'from'));
CREATE INDEX brand_senders_by_service ON brand_senders ((config->>'messaging_service_sid'));

-- Whose an inbound message is, of a brand's customers sharing the phone, is told by the brand's last message to
-- the phone: brand_id goes between the phone and the time, so that one index probe finds it, however many
-- messages the customer or other brands sent there. The look-up across brands (whose a reply to a shared sender
-- is) reads the phone's messages — a phone gets few — and takes the newest.
DROP INDEX messages_by_recipient;
CREATE INDEX messages_by_recipient ON messages (recipient, brand_id, created_at) WHERE recipient IS NOT NULL;

-- A brand's messaging settings: the answer to HELP, the auto-reply to a message outside any conversation (each
-- a string or locale -> string; NULL: lxt's default HELP text, no auto-reply), and its own keywords per kind
-- ({"stop": [...], "start": [...], "help": [...]}, case-folded), on top of the built-in ones.
CREATE TABLE brand_messaging (
    brand_id    uuid PRIMARY KEY REFERENCES brands (brand_id) ON DELETE CASCADE,
    help_text   jsonb,
    auto_reply  jsonb,
    keywords    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Channels the customer opted out of themselves (a STOP reply, or the carrier's opt-out reported by Twilio).
-- An event's `consents` never grants them again: only the customer's START, or PUT /v1/customers with the
-- manage scope. Consents withdrawn by Twilio's 21610 (unsubscribed recipient) before this column existed count.
ALTER TABLE customers ADD COLUMN unsubscribed text[] NOT NULL DEFAULT '{}';
UPDATE customers c SET unsubscribed = w.channels
FROM (
    SELECT cc.brand_id, cc.customer_id, array_agg(DISTINCT cc.channel ORDER BY cc.channel) AS channels
    FROM consent_changes cc
    JOIN customers cu ON cu.brand_id = cc.brand_id AND cu.customer_id = cc.customer_id
    WHERE cc.source = 'provider' AND NOT cc.granted AND cu.consents -> cc.channel = 'false'::jsonb
    GROUP BY cc.brand_id, cc.customer_id
) w
WHERE c.brand_id = w.brand_id AND c.customer_id = w.customer_id;
