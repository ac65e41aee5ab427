-- Sources get a revision like destinations have: a PATCH of a config commits only if the revision it merged
-- onto is still the stored one, so concurrent edits cannot undo each other (or bring back a cleared secret).
ALTER TABLE sources ADD COLUMN revision_id TEXT NOT NULL DEFAULT '';

-- Password attempts whose check has not finished yet: they count against the limit, so that a burst of
-- concurrent guesses cannot all pass before the first failure is recorded.
ALTER TABLE auth_throttle ADD COLUMN in_flight BIGINT NOT NULL DEFAULT 0;
