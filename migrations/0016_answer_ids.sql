-- Answers and refused submissions get time-ordered ids like every other row (lxt_uuid7(), migrations/0005):
-- answers is the largest table, and random ids scatter its inserts across the whole primary key index. Rows
-- stored so far keep their ids.
ALTER TABLE answers ALTER COLUMN answer_id SET DEFAULT lxt_uuid7();
ALTER TABLE refused_answers ALTER COLUMN refusal_id SET DEFAULT lxt_uuid7();
