-- Messages: each attempt to reach a customer for an invitation, on one channel through one provider.
-- The provider's id and delivery statuses land here too, so a message's life is part of the timeline.

CREATE TABLE messages (
    brand_id             uuid NOT NULL,
    message_id           uuid NOT NULL DEFAULT gen_random_uuid(),
    invitation_id        uuid NOT NULL,
    channel              text NOT NULL,
    provider             text NOT NULL,          -- sandbox, twilio, fcm …
    provider_message_id  text,
    status               text NOT NULL,          -- accepted, sent, delivered, failed …
    error_code           text,
    body                 text NOT NULL,
    segments             integer,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, message_id)
);
CREATE INDEX messages_by_invitation ON messages (brand_id, invitation_id);
