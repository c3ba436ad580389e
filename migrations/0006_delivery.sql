-- Real delivery: brands' senders, send attempts recorded before the provider call, delivery receipts, inbound
-- messages, retries of claimed invitations, and what a provider says about a customer's phone.

-- A claimed invitation goes back to `scheduled` when its send is retried (a transient provider error, or an
-- attempt the provider certainly never received) or deferred (no rate budget, outside the customer's window).
INSERT INTO invitation_status_transitions (from_status, to_status) VALUES ('sending', 'scheduled');

-- How each brand reaches its customers per channel: the sender (From number, Messaging Service, WhatsApp
-- sender), the brand's webhook URL, and rate overrides. A channel without a row uses the global default sender.
-- The webhook signing secret is never stored: it is derived from the server's signing key and `secret_version`
-- (rotating it increments the version).
CREATE TABLE brand_senders (
    brand_id        uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'push', 'webhook')),
    config          jsonb NOT NULL,
    secret_version  integer NOT NULL DEFAULT 1 CHECK (secret_version >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, channel)
);

-- Every attempt is a message row written *before* the provider is called (status `pending`), its id the client
-- reference the provider calls back with. The outcome replaces `pending`: accepted, failed (with the provider's
-- code), not_sent (the provider certainly has nothing: retried), unknown (the provider could not tell).
-- Delivery receipts move `delivery_status` forward only (a late `sent` never overwrites `delivered`).
ALTER TABLE messages
    ADD COLUMN attempt               integer,
    ADD COLUMN recipient             text,          -- To: +E.164, whatsapp:+E.164, a push token, a webhook URL
    ADD COLUMN sender                text,          -- From number, Messaging Service SID, FCM project, …
    ADD COLUMN style                 text CHECK (style IN ('conversation', 'link')),
    ADD COLUMN link_token_hash       bytea CHECK (length(link_token_hash) = 32),
    ADD COLUMN accepted_at           timestamptz,
    ADD COLUMN delivery_status       text,
    ADD COLUMN delivery_error_code   text,
    ADD COLUMN delivered_at          timestamptz;
-- The web link page finds its invitation by the token's hash, before it knows the brand (256-bit tokens: a
-- hash names at most one message).
CREATE UNIQUE INDEX messages_by_link_token ON messages (link_token_hash) WHERE link_token_hash IS NOT NULL;
CREATE INDEX messages_by_provider_id ON messages (brand_id, provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- Every delivery receipt (status callback) as received. Providers retry callbacks: one row per message and status.
CREATE TABLE message_receipts (
    brand_id             uuid NOT NULL,
    message_id           uuid NOT NULL,
    status               text NOT NULL,
    error_code           text,
    provider_message_id  text,
    received_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, message_id, status)
);

-- Messages customers send to a brand's sender (SMS/WhatsApp replies, sandbox replies), stored before anything
-- else is done with them. Providers retry webhooks: one row per provider message id.
CREATE TABLE inbound_messages (
    brand_id             uuid NOT NULL,
    inbound_id           uuid NOT NULL DEFAULT lxt_uuid7(),
    channel              text NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
    provider             text NOT NULL,                       -- twilio, sandbox
    provider_message_id  text NOT NULL,
    from_phone           text NOT NULL,
    to_address           text NOT NULL,
    body                 text NOT NULL,
    customer_id          uuid,
    payload              jsonb NOT NULL DEFAULT '{}',         -- the provider's fields as received
    received_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, inbound_id),
    UNIQUE (brand_id, provider, provider_message_id)
);
CREATE INDEX inbound_messages_by_customer ON inbound_messages (brand_id, customer_id, received_at);

-- What a provider told us about a customer's phone (Twilio 21211 invalid number, 21614 not a mobile): later
-- triggers skip the phone's channels with that reason, until the brand gives another number.
ALTER TABLE customers ADD COLUMN phone_unreachable text;
