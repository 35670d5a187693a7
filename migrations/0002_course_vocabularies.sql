-- The Alex course's rules (its API and agents are this schema's first users):
-- a position edited to 0 is kept (sold out), not rejected; job types are validated by the
-- schemas (alex_db.schemas.JobType), so a new agent job type needs no migration. The status
-- vocabulary stays a CHECK: it is absolute.

ALTER TABLE positions DROP CONSTRAINT positions_quantity_positive;
ALTER TABLE positions
    ADD CONSTRAINT positions_quantity_not_negative CHECK (quantity >= 0);

ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_known;
