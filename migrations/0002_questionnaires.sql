-- Questionnaires and their immutable published versions.
-- Invitations and answers refer to (key, version), so editing a questionnaire never changes the meaning of
-- data already collected: a new definition is a new version, and versions cannot be updated or deleted.

CREATE TABLE questionnaires (
    brand_id        uuid NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    key             text NOT NULL,
    title           text NOT NULL,
    latest_version  integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    archived_at     timestamptz,
    PRIMARY KEY (brand_id, key)
);

CREATE TABLE questionnaire_versions (
    brand_id      uuid NOT NULL,
    key           text NOT NULL,
    version       integer NOT NULL CHECK (version > 0),
    definition    jsonb NOT NULL,
    -- SHA-256 of the canonical definition: publishing the same definition again is not a new version.
    checksum      bytea NOT NULL,
    warnings      jsonb NOT NULL DEFAULT '[]',
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_id, key, version),
    FOREIGN KEY (brand_id, key) REFERENCES questionnaires (brand_id, key) ON DELETE CASCADE
);

CREATE FUNCTION questionnaire_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'questionnaire versions are immutable: publish a new version instead'
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER questionnaire_versions_no_update
    BEFORE UPDATE ON questionnaire_versions
    FOR EACH ROW EXECUTE FUNCTION questionnaire_versions_immutable();
