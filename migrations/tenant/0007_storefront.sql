-- What the storefront reads on every page, kept ready: each product's price range, stock
-- and first image (maintained by triggers, so every writer keeps them right), and the
-- shoppers' carts.

ALTER TABLE products
    ADD COLUMN price_min_minor   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN price_max_minor   bigint  NOT NULL DEFAULT 0,
    -- The highest compare-at price above its variant's price, for a "was" price on cards.
    ADD COLUMN compare_at_minor  bigint,
    ADD COLUMN available         boolean NOT NULL DEFAULT false,
    ADD COLUMN image_key         text,
    ADD COLUMN image_alt         text    NOT NULL DEFAULT '',
    ADD COLUMN image_width       integer,
    ADD COLUMN image_height      integer;

CREATE FUNCTION refresh_product_summary(p uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE products SET
        price_min_minor  = COALESCE(v.min_price, 0),
        price_max_minor  = COALESCE(v.max_price, 0),
        compare_at_minor = v.compare_at,
        available        = COALESCE(v.available, false)
    FROM (
        SELECT min(price_minor) AS min_price,
               max(price_minor) AS max_price,
               max(compare_at_minor) FILTER (WHERE compare_at_minor > price_minor) AS compare_at,
               bool_or(NOT track_inventory OR inventory_quantity > 0) AS available
        FROM variants WHERE product_id = p
    ) v
    WHERE products.id = p;
$$;

CREATE FUNCTION refresh_product_image(p uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE products SET
        image_key    = i.storage_key,
        image_alt    = COALESCE(i.alt, ''),
        image_width  = i.width,
        image_height = i.height
    FROM (SELECT NULL) AS one
    LEFT JOIN LATERAL (
        SELECT storage_key, alt, width, height FROM product_images
        WHERE product_id = p ORDER BY position LIMIT 1
    ) i ON true
    WHERE products.id = p;
$$;

CREATE FUNCTION variants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM refresh_product_summary(OLD.product_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.product_id <> OLD.product_id) THEN
        PERFORM refresh_product_summary(NEW.product_id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER variants_summary AFTER INSERT OR UPDATE OR DELETE ON variants
    FOR EACH ROW EXECUTE FUNCTION variants_changed();

CREATE FUNCTION product_images_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM refresh_product_image(OLD.product_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.product_id <> OLD.product_id) THEN
        PERFORM refresh_product_image(NEW.product_id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER product_images_summary AFTER INSERT OR UPDATE OR DELETE ON product_images
    FOR EACH ROW EXECUTE FUNCTION product_images_changed();

-- Bring existing products up to date.
SELECT refresh_product_summary(id), refresh_product_image(id) FROM products;

-- Storefront listings: active products, newest first or by price, keyset-paginated.
CREATE INDEX products_shop_newest ON products (published_at DESC, id DESC) WHERE status = 'active';
CREATE INDEX products_shop_price ON products (price_min_minor, id) WHERE status = 'active';
CREATE INDEX products_shop_title ON products (title, id) WHERE status = 'active';

-- A shopper's cart: its id lives in the shopper's session.
CREATE TABLE carts (
    id         uuid        PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX carts_updated ON carts (updated_at);

-- A line holds the price the shopper saw when adding, so a later change can be pointed out.
CREATE TABLE cart_lines (
    cart_id          uuid        NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id       uuid        NOT NULL,
    quantity         integer     NOT NULL CONSTRAINT cart_lines_quantity_positive CHECK (quantity > 0),
    unit_price_minor bigint      NOT NULL,
    added_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cart_id, variant_id)
);

-- Messages shoppers send through the contact form; the merchant reads them in the admin
-- and gets each by mail.
CREATE TABLE enquiries (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    email      text        NOT NULL,
    phone      text        NOT NULL DEFAULT '',
    body       text        NOT NULL,
    handled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enquiries_newest ON enquiries (created_at DESC, id DESC);

-- Shoppers with accounts (when the merchant switches accounts on). Guests need none.
CREATE TABLE customers (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL CONSTRAINT customers_email_key UNIQUE
                              CONSTRAINT customers_email_lowercase CHECK (email = lower(email)),
    password_hash text,
    first_name    text        NOT NULL DEFAULT '',
    last_name     text        NOT NULL DEFAULT '',
    phone         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customer_addresses (
    id          uuid        PRIMARY KEY,
    customer_id uuid        NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    first_name  text        NOT NULL DEFAULT '',
    last_name   text        NOT NULL DEFAULT '',
    company     text        NOT NULL DEFAULT '',
    address1    text        NOT NULL,
    address2    text        NOT NULL DEFAULT '',
    city        text        NOT NULL,
    province    text        NOT NULL DEFAULT '',
    zip         text        NOT NULL DEFAULT '',
    country     text        NOT NULL CONSTRAINT customer_addresses_country_format CHECK (country ~ '^[A-Z]{2}$'),
    phone       text        NOT NULL DEFAULT '',
    is_default  boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, created_at);
CREATE UNIQUE INDEX customer_addresses_one_default ON customer_addresses (customer_id) WHERE is_default;
