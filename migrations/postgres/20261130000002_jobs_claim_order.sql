-- A claim takes the most overdue due job by (run_at, id): with id in the index, it is the index's first entry
-- past the state, not a sort of every due job.
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (state, run_at, id);
