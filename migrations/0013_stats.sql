-- Statistics read a brand's contacts by when they occurred: the events of a range (GET /v1/stats/...), and the
-- invitations those events scheduled, which carry the same occurred_at. Without these a range of one brand reads
-- every event of the brand (events_by_customer leads with the customer) or joins invitation by invitation.
CREATE INDEX events_by_time ON events (brand_id, occurred_at);
CREATE INDEX invitations_by_time ON invitations (brand_id, occurred_at);
