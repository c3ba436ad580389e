-- The invitation state machine enforced by the database, idempotency keys in a table of their own, one rule for
-- ids, and the indexes the sweeper and trigger deactivation need.

-- Ids: every row id is a UUIDv7 (RFC 9562: 48 bits of Unix milliseconds, then random bits), generated in bulk by
-- the application (plumbing/ids.py) or by this default, so that new rows land at the right edge of each
-- primary-key index. PostgreSQL 18 has uuidv7() built in; this one also runs on 15-17.
CREATE FUNCTION lxt_uuid7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    -- A random (v4) UUID with its first 48 bits replaced by the time, and the version nibble 4 turned into 7.
    SELECT encode(
        set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                                  FROM 3)
                                FROM 1 FOR 6), 52, 1), 53, 1),
        'hex')::uuid
$$;
ALTER TABLE brands ALTER COLUMN brand_id SET DEFAULT lxt_uuid7();
ALTER TABLE api_keys ALTER COLUMN key_id SET DEFAULT lxt_uuid7();
ALTER TABLE triggers ALTER COLUMN trigger_id SET DEFAULT lxt_uuid7();
ALTER TABLE messages ALTER COLUMN message_id SET DEFAULT lxt_uuid7();

-- A key hash names at most one key.
DROP INDEX api_keys_by_hash;
CREATE UNIQUE INDEX api_keys_by_hash ON api_keys (key_hash);

-- Questionnaire versions are immutable and permanent: invitations and answers point at them. (Removing a whole
-- brand, which cascades here, will need an explicit exception in this function when lxt learns to do it.)
CREATE TRIGGER questionnaire_versions_no_delete
    BEFORE DELETE ON questionnaire_versions
    FOR EACH ROW EXECUTE FUNCTION questionnaire_versions_immutable();
CREATE TRIGGER questionnaire_versions_no_truncate
    BEFORE TRUNCATE ON questionnaire_versions
    FOR EACH STATEMENT EXECUTE FUNCTION questionnaire_versions_immutable();

-- Idempotency keys: which event a brand's key names, and a hash of what was submitted under it. Kept apart from
-- `events` so that events can be partitioned by time (a unique key on events would have to include the
-- partition key). Keys are kept for the retention period in triggers/idempotency.py (the worker prunes older
-- ones); a key reused after that is a new event.
CREATE TABLE idempotency_keys (
    brand_id         uuid NOT NULL,
    idempotency_key  text NOT NULL,
    event_id         uuid NOT NULL,
    -- SHA-256 of the event as submitted: a reused idempotency key with a different event is refused.
    payload_hash     bytea NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (brand_id, idempotency_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
INSERT INTO idempotency_keys (brand_id, idempotency_key, event_id, payload_hash, created_at)
    SELECT brand_id, idempotency_key, event_id, payload_hash, received_at FROM events;
ALTER TABLE events DROP CONSTRAINT events_brand_id_idempotency_key_key, DROP COLUMN payload_hash;

-- The sweeper's scan for sends a dead worker left behind, and cancelling a trigger's scheduled invitations.
CREATE INDEX invitations_sending ON invitations (updated_at) WHERE status = 'sending';
CREATE INDEX invitations_scheduled_by_trigger ON invitations (brand_id, trigger_id) WHERE status = 'scheduled';

-- The invitation state machine (triggers/invitations.py holds the same table; a test keeps them equal). Every
-- status change goes through this trigger, whichever statement makes it: a change the machine does not allow
-- is an error, and an allowed one is recorded in invitation_transitions, so no code path can skip either.
CREATE TABLE invitation_status_transitions (
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO invitation_status_transitions (from_status, to_status) VALUES
    ('scheduled', 'sending'), ('scheduled', 'cancelled'),
    ('sending', 'sent'), ('sending', 'failed'), ('sending', 'expired'), ('sending', 'suppressed');

CREATE FUNCTION invitation_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM invitation_status_transitions
                   WHERE from_status = OLD.status AND to_status = NEW.status) THEN
        RAISE EXCEPTION 'invitation % cannot go from % to %', OLD.invitation_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO invitation_transitions (brand_id, invitation_id, from_status, to_status, reason, at)
    VALUES (NEW.brand_id, NEW.invitation_id, OLD.status, NEW.status, NEW.status_reason, NEW.updated_at);
    RETURN NULL;
END
$$;

CREATE TRIGGER invitations_status_changed
    AFTER UPDATE OF status ON invitations
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION invitation_status_changed();
