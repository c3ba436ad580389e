-- Opt-outs belong to the phone. A STOP, or the carrier's refusal to deliver to an unsubscribed number (Twilio
-- 21610), is the person behind the phone saying no to the brand on that channel — not to one of the brand's
-- customer records. STOP has always reached every customer of the brand with the phone at the time; this table
-- keeps it for the records that get the phone later: a customer created with it, or given it, starts opted out of
-- the channel too, however the brand's system says it consents.
--
-- Written by STOP (customers.queries.unsubscribe_phone) and by the carrier's opt-out (withdraw_consent), even for a
-- phone no customer has yet; removed by the phone's START (resubscribe_phone) and by PUT /v1/customers with the
-- manage scope granting the channel again to a customer with the phone (the brand has their renewed consent).
CREATE TABLE phone_opt_outs (
    brand_id      uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    phone         text NOT NULL,  -- E.164
    channel       text NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
    source        text NOT NULL,  -- as consent_changes.source: sms_keyword, whatsapp_keyword, twilio_opt_out, provider
    opted_out_at  timestamptz NOT NULL,
    PRIMARY KEY (brand_id, phone, channel)
);

-- Whatever writes customers (an event's ingestion, PUT /v1/customers, a study's enrolment, a bulk load), a customer
-- written with a phone that opted out of a channel has that channel withdrawn and listed in `unsubscribed`, and the
-- change recorded (source `phone_opt_out`) after the statement's own consent changes: the timeline reads "granted
-- by the event, withdrawn by the phone's opt-out". Once per statement, set-based, over the rows it wrote, and
-- nothing to do for a customer already unsubscribed: what a write usually pays is one look-up of its rows' phones
-- in a table that holds only opt-outs (about 1 µs a row, 30 µs a statement, measured with 1000-row inserts). Not
-- for the update it makes itself (nor for customers written by another table's trigger: there are none).
CREATE FUNCTION customers_honour_phone_opt_outs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 OR NOT EXISTS (
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

-- Transition tables allow one event per trigger: one for inserts, one for updates.
CREATE TRIGGER customers_inserted_with_an_opted_out_phone
    AFTER INSERT ON customers REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION customers_honour_phone_opt_outs();
CREATE TRIGGER customers_updated_with_an_opted_out_phone
    AFTER UPDATE ON customers REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION customers_honour_phone_opt_outs();

-- The opt-outs recorded so far, on the phones of the customers who made them, and the brand's other customers with
-- those phones brought in line (through the trigger above).
INSERT INTO phone_opt_outs (brand_id, phone, channel, source, opted_out_at)
SELECT DISTINCT ON (c.brand_id, c.phone, u.channel)
       c.brand_id, c.phone, u.channel, coalesce(w.source, 'provider'), coalesce(w.changed_at, c.updated_at)
FROM customers c
CROSS JOIN LATERAL unnest(c.unsubscribed) AS u (channel)
LEFT JOIN LATERAL (
    SELECT cc.source, cc.changed_at FROM consent_changes cc
    WHERE cc.brand_id = c.brand_id AND cc.customer_id = c.customer_id AND cc.channel = u.channel AND NOT cc.granted
    ORDER BY cc.change_id DESC
    LIMIT 1
) w ON true
WHERE c.phone IS NOT NULL AND u.channel IN ('sms', 'whatsapp')
ORDER BY c.brand_id, c.phone, u.channel, w.changed_at NULLS LAST;
UPDATE customers c SET updated_at = now()
FROM phone_opt_outs o
WHERE c.brand_id = o.brand_id AND c.phone = o.phone AND NOT o.channel = ANY(c.unsubscribed);
