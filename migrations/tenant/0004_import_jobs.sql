-- Product CSV imports started from the admin: progress while one runs, its report after.
-- Expand-only: a new table nothing earlier reads.
CREATE TABLE import_jobs (
    id             uuid        PRIMARY KEY,
    status         text        NOT NULL DEFAULT 'running'
                               CONSTRAINT import_jobs_status_known CHECK (status IN ('running', 'done', 'failed')),
    file_name      text        NOT NULL DEFAULT '',
    total_rows     bigint      NOT NULL DEFAULT 0,
    processed_rows bigint      NOT NULL DEFAULT 0,
    created        integer     NOT NULL DEFAULT 0,
    updated        integer     NOT NULL DEFAULT 0,
    unchanged      integer     NOT NULL DEFAULT 0,
    failed         integer     NOT NULL DEFAULT 0,
    -- [{line, column, handle, message}], capped; `errors_omitted` counts the rest.
    errors         jsonb       NOT NULL DEFAULT '[]',
    errors_omitted integer     NOT NULL DEFAULT 0,
    -- Things imported partly, such as image URLs that were skipped: same shape as errors.
    notes          jsonb       NOT NULL DEFAULT '[]',
    notes_omitted  integer     NOT NULL DEFAULT 0,
    -- Why a failed import stopped (an unreadable file, a missing Handle column).
    message        text,
    actor          text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- Moved on every progress write: a running job that stops moving was interrupted.
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE INDEX import_jobs_created ON import_jobs (created_at DESC, id DESC);
