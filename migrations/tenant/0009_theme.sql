-- The merchant's overrides of storefront templates. The default theme ships in the binary;
-- a row here replaces one of its templates for this store, and deleting the row restores
-- the default. `version` lets a node record a render error against exactly the source it
-- rendered (a newer save clears it).

CREATE TABLE theme_templates (
    name          text        NOT NULL
        CONSTRAINT theme_templates_pkey PRIMARY KEY
        CONSTRAINT theme_templates_name_format
            CHECK (name ~ '^store/[A-Za-z0-9_][A-Za-z0-9_./-]*\.html$'
                   AND name NOT LIKE 'store/assets/%'
                   AND position('..' in name) = 0),
    source        text        NOT NULL
        CONSTRAINT theme_templates_source_size CHECK (octet_length(source) <= 65536),
    version       bigint      NOT NULL DEFAULT 1,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text        NOT NULL,
    last_error    text,
    last_error_at timestamptz
);
