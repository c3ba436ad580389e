-- Indexes for reading back what happened (GET /v1/invitations, GET /v1/sandbox/messages) and for finding the
-- brand of an inbound message sent to a shared sender.

-- A brand's invitations newest first, in the order its cursor pages through (created_at, invitation_id): the
-- time it was scheduled never changes, unlike planned_at, which a retry or deferral moves.
CREATE INDEX invitations_by_created ON invitations (brand_id, created_at, invitation_id);

-- A brand's sandbox outbox, newest first.
CREATE INDEX messages_sandbox ON messages (brand_id, created_at, message_id) WHERE provider = 'sandbox';

-- An inbound message to a shared (default) sender belongs to the brand that last messaged its sender's phone
-- (across brands: the system's own look-up, before any brand is known).
CREATE INDEX messages_by_recipient ON messages (recipient, created_at) WHERE recipient IS NOT NULL;

-- A brand's customer with the phone an inbound message came from.
CREATE INDEX customers_by_phone ON customers (brand_id, phone) WHERE phone IS NOT NULL;
