-- Erasing a customer blanks the texts no customer was found for that came from any phone the customer has had
-- (research/erasure.py). Those are few, and without this an erasure read every unattributed text of the brand
-- (inbound_messages_by_customer's `customer_id IS NULL` range): 27 ms for a brand with 10,000 of them, growing
-- with the brand, against 0.2 ms with it (measured, EXPLAIN ANALYZE, 500,000 texts of which 2% unattributed).
CREATE INDEX inbound_messages_unattributed ON inbound_messages (brand_id, from_phone) WHERE customer_id IS NULL;
