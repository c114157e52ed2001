-- The catalog: products with up to three options and their variants, images, collections,
-- and inventory adjustments. Expand-only: nothing earlier code reads is changed.

ALTER TABLE settings ADD COLUMN low_stock_threshold integer NOT NULL DEFAULT 5
    CONSTRAINT settings_low_stock_threshold_not_negative CHECK (low_stock_threshold >= 0);

CREATE TABLE products (
    id              uuid        PRIMARY KEY,
    handle          text        NOT NULL CONSTRAINT products_handle_key UNIQUE
                                CONSTRAINT products_handle_format CHECK (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title           text        NOT NULL CONSTRAINT products_title_present CHECK (length(btrim(title)) > 0),
    -- What the merchant wrote (HTML or Markdown) and its sanitized HTML, which is what is served.
    body_source     text        NOT NULL DEFAULT '',
    body_format     text        NOT NULL DEFAULT 'html' CONSTRAINT products_body_format_known CHECK (body_format IN ('html', 'markdown')),
    body_html       text        NOT NULL DEFAULT '',
    status          text        NOT NULL DEFAULT 'draft' CONSTRAINT products_status_known CHECK (status IN ('draft', 'active', 'archived')),
    vendor          text        NOT NULL DEFAULT '',
    product_type    text        NOT NULL DEFAULT '',
    tags            text[]      NOT NULL DEFAULT '{}',
    seo_title       text        NOT NULL DEFAULT '',
    seo_description text        NOT NULL DEFAULT '',
    published_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_status_updated ON products (status, updated_at DESC, id DESC);
CREATE INDEX products_updated ON products (updated_at DESC, id DESC);
CREATE INDEX products_tags ON products USING gin (tags);

-- Handles a product had before: old links answer 301 to the current one.
CREATE TABLE product_handle_redirects (
    old_handle text PRIMARY KEY,
    product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE
);

CREATE TABLE product_options (
    product_id uuid     NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   smallint NOT NULL CONSTRAINT product_options_position_range CHECK (position BETWEEN 1 AND 3),
    name       text     NOT NULL CONSTRAINT product_options_name_present CHECK (length(btrim(name)) > 0),
    PRIMARY KEY (product_id, position),
    CONSTRAINT product_options_name_key UNIQUE (product_id, name)
);

CREATE TABLE variants (
    id                 uuid        PRIMARY KEY,
    product_id         uuid        NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position           integer     NOT NULL,
    option1            text,
    option2            text,
    option3            text,
    sku                text        NOT NULL DEFAULT '',
    price_minor        bigint      NOT NULL CONSTRAINT variants_price_not_negative CHECK (price_minor >= 0),
    compare_at_minor   bigint      CONSTRAINT variants_compare_at_not_negative CHECK (compare_at_minor >= 0),
    weight_grams       integer     NOT NULL DEFAULT 0 CONSTRAINT variants_weight_not_negative CHECK (weight_grams >= 0),
    track_inventory    boolean     NOT NULL DEFAULT true,
    inventory_quantity integer     NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT variants_options_key UNIQUE NULLS NOT DISTINCT (product_id, option1, option2, option3)
);
CREATE INDEX variants_product ON variants (product_id, position);
-- SKUs are optional, but unique when given.
CREATE UNIQUE INDEX variants_sku_key ON variants (sku) WHERE sku <> '';

CREATE TABLE product_images (
    id           uuid        PRIMARY KEY,
    product_id   uuid        NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position     integer     NOT NULL,
    alt          text        NOT NULL DEFAULT '',
    storage_key  text        NOT NULL,
    content_type text        NOT NULL,
    width        integer     NOT NULL,
    height       integer     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_images_product ON product_images (product_id, position);

CREATE TABLE collections (
    id          uuid        PRIMARY KEY,
    handle      text        NOT NULL CONSTRAINT collections_handle_key UNIQUE
                            CONSTRAINT collections_handle_format CHECK (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title       text        NOT NULL CONSTRAINT collections_title_present CHECK (length(btrim(title)) > 0),
    body_html   text        NOT NULL DEFAULT '',
    kind        text        NOT NULL CONSTRAINT collections_kind_known CHECK (kind IN ('manual', 'automatic')),
    -- Automatic collections: products must match all rules, or any with `disjunctive`.
    disjunctive boolean     NOT NULL DEFAULT false,
    sort_order  text        NOT NULL DEFAULT 'manual'
                            CONSTRAINT collections_sort_known CHECK (sort_order IN ('manual', 'title-asc', 'title-desc', 'price-asc', 'price-desc', 'created-desc', 'created-asc', 'best-selling')),
    image_key   text,
    published   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE collection_rules (
    collection_id uuid     NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    position      smallint NOT NULL,
    field         text     NOT NULL CONSTRAINT collection_rules_field_known CHECK (field IN ('tag', 'type', 'vendor', 'title', 'price')),
    relation      text     NOT NULL CONSTRAINT collection_rules_relation_known CHECK (relation IN ('equals', 'not_equals', 'contains', 'greater_than', 'less_than')),
    value         text     NOT NULL,
    PRIMARY KEY (collection_id, position)
);

CREATE TABLE collection_products (
    collection_id uuid    NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    product_id    uuid    NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    PRIMARY KEY (collection_id, product_id)
);
CREATE INDEX collection_products_order ON collection_products (collection_id, position);
CREATE INDEX collection_products_product ON collection_products (product_id);

-- Every stock change, with why and who: the quantity on a variant is their running sum.
CREATE TABLE inventory_adjustments (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    variant_id     uuid        NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    delta          integer     NOT NULL,
    quantity_after integer     NOT NULL,
    reason         text        NOT NULL,
    actor          text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_adjustments_variant ON inventory_adjustments (variant_id, id DESC);
