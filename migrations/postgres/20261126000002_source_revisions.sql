-- Sources get a revision like destinations have: a PATCH of a config commits only if the revision it merged
-- onto is still the stored one, so concurrent edits cannot undo each other (or bring back a cleared secret).
ALTER TABLE sources ADD COLUMN revision_id TEXT NOT NULL DEFAULT '';
