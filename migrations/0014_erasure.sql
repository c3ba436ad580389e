-- Erasing a customer and ageing out raw data (research/erasure.py, research/retention.py): an erased phone's
-- opt-outs kept as a hash, a conversation closed by erasure, and how far the retention job has got per brand.

-- The opt-outs of an erased customer's phone. Honouring a STOP is a legal obligation that outlives the customer's
-- erasure, but the phone is personal data: so the phone's rows of `phone_opt_outs` move here, the phone replaced by
-- SHA-256(brand_id, phone). A customer written later with that phone is matched by the hash, and the opt-out becomes
-- the phone's own again (below). The hash is salted per brand so that two brands' rows cannot be joined, but phone
-- numbers are few enough to be tried one by one: it keeps the number out of sight, not out of reach of whoever holds
-- the database. Only phones no other customer of the brand has are moved (another's phone is their contact data).
-- STABLE as textsend is, so that the planner inlines it (a call of a SQL function it cannot inline costs several
-- times the hash).
CREATE FUNCTION phone_opt_out_hash(brand_id uuid, phone text) RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT sha256(uuid_send(brand_id) || textsend(phone)) $$;

CREATE TABLE erased_phone_opt_outs (
    brand_id      uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    phone_hash    bytea NOT NULL CHECK (length(phone_hash) = 32),  -- phone_opt_out_hash(brand_id, phone)
    channel       text NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
    source        text NOT NULL,
    opted_out_at  timestamptz NOT NULL,
    PRIMARY KEY (brand_id, phone_hash, channel)
);

-- As in 0011, with one step first: a customer written with a phone whose opt-out was kept by its hash brings the
-- opt-out back as the phone's own (`phone_opt_outs`), where the rest of this function, STOP's and START's code and
-- the brand's `manage` grant find it. For a brand none of whose erased customers had opted out the step costs one
-- index look-up per statement; for one with 10,000 such phones, about 3 µs per customer written (measured with
-- 1000-row inserts of customers with phones: 12.7 ms with 0011's function, 15.9 ms with this one).
CREATE OR REPLACE FUNCTION customers_honour_phone_opt_outs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT FROM erased_phone_opt_outs WHERE brand_id IN (SELECT brand_id FROM written)) THEN
        WITH restored AS (
            DELETE FROM erased_phone_opt_outs e
            USING (SELECT DISTINCT brand_id, phone FROM written WHERE phone IS NOT NULL) w
            WHERE e.brand_id = w.brand_id AND e.phone_hash = phone_opt_out_hash(w.brand_id, w.phone)
            RETURNING e.brand_id, w.phone, e.channel, e.source, e.opted_out_at
        )
        INSERT INTO phone_opt_outs (brand_id, phone, channel, source, opted_out_at)
        SELECT brand_id, phone, channel, source, opted_out_at FROM restored
        ON CONFLICT (brand_id, phone, channel) DO NOTHING;
    END IF;
    IF NOT EXISTS (
        SELECT FROM written w
        JOIN phone_opt_outs o ON o.brand_id = w.brand_id AND o.phone = w.phone
        WHERE NOT o.channel = ANY(w.unsubscribed)
    ) THEN
        RETURN NULL;
    END IF;
    WITH opted_out AS (
        SELECT w.brand_id, w.customer_id, w.updated_at, array_agg(o.channel ORDER BY o.channel) AS channels
        FROM written w
        JOIN phone_opt_outs o ON o.brand_id = w.brand_id AND o.phone = w.phone
        WHERE NOT o.channel = ANY(w.unsubscribed)
        GROUP BY w.brand_id, w.customer_id, w.updated_at
    ), changed AS (
        UPDATE customers c
        SET consents = c.consents || (SELECT jsonb_object_agg(channel, false) FROM unnest(x.channels) AS channel),
            unsubscribed = c.unsubscribed || x.channels
        FROM opted_out x
        WHERE c.brand_id = x.brand_id AND c.customer_id = x.customer_id
    )
    INSERT INTO consent_changes (brand_id, customer_id, channel, granted, source, changed_at)
    SELECT x.brand_id, x.customer_id, channel, false, 'phone_opt_out', x.updated_at
    FROM opted_out x, unnest(x.channels) AS channel;
    RETURN NULL;
END
$$;

-- The id a row of an erased customer takes instead of its own, when the brand's policy keeps the row (`anonymise`):
-- the brand and the providers were given the old ids (an event's and invitation's in the API's answers, a message's
-- in its status callback), so rows keep none of them. SHA-256 of a key drawn for one erasure and forgotten with it,
-- and the old id: the same old id gets the same new one in every table (joins between the rows survive) and nobody
-- can go back. Shaped as UUIDv7 like every id (0005), with the erasure's millisecond: the row's own times stay.
CREATE FUNCTION erased_id(key bytea, id uuid) RETURNS uuid
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$
    -- Bits are numbered from each byte's lowest: 52-55 are the version nibble (0111), 70-71 the variant (10).
    SELECT encode(set_bit(set_bit(set_bit(set_bit(set_bit(set_bit(
        overlay(substring(sha256(key || uuid_send(id)) FROM 1 FOR 16)
                PLACING substring(int8send(floor(extract(epoch FROM now()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
        55, 0), 54, 1), 53, 1), 52, 1), 71, 1), 70, 0), 'hex')::uuid
$$;

-- erased: the customer was erased while the conversation was open (kept, without the phone, when the brand's
-- erasure policy is `anonymise`).
ALTER TABLE conversations DROP CONSTRAINT conversations_close_reason_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_close_reason_check CHECK (close_reason IN
    ('completed', 'expired', 'gave_up', 'stopped', 'not_sent', 'invitation_closed', 'erased'));

-- The cutoff of the brand's last complete retention run: what was stored before it (less a margin for clocks and
-- for rows that change after they are stored) is anonymised already, so the next run starts there instead of
-- reading the brand's whole history again. NULL: no run has completed.
ALTER TABLE brands ADD COLUMN retention_applied_until timestamptz;
