-- Checkout and orders: shipping rates, tax rates, discount codes, orders with their lines,
-- event history, fulfilments and stock reservations. Expand-only.

-- Whether catalog prices already include tax (VAT-style) or tax is added at checkout.
ALTER TABLE settings ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT false;

-- A shipping rate the merchant offers to a set of countries (a zone); no countries: anywhere.
CREATE TABLE shipping_rates (
    id              uuid        PRIMARY KEY,
    name            text        NOT NULL CONSTRAINT shipping_rates_name_present CHECK (length(btrim(name)) > 0),
    countries       text[]      NOT NULL DEFAULT '{}',
    kind            text        NOT NULL CONSTRAINT shipping_rates_kind_known CHECK (kind IN ('flat', 'free_over', 'by_weight')),
    price_minor     bigint      NOT NULL DEFAULT 0 CONSTRAINT shipping_rates_price_not_negative CHECK (price_minor >= 0),
    -- free_over: the discounted subtotal from which shipping is free.
    threshold_minor bigint      CONSTRAINT shipping_rates_threshold_not_negative CHECK (threshold_minor >= 0),
    -- by_weight: [{"up_to_grams": 1000 | null, "price_minor": 500}, ...]
    weight_brackets jsonb       NOT NULL DEFAULT '[]',
    position        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipping_rates_countries ON shipping_rates USING gin (countries);

-- Tax by destination: a country-wide rate (region '') and region rates add up.
CREATE TABLE tax_rates (
    id         uuid        PRIMARY KEY,
    country    text        NOT NULL CONSTRAINT tax_rates_country_format CHECK (country ~ '^[A-Z]{2}$'),
    region     text        NOT NULL DEFAULT '',
    name       text        NOT NULL CONSTRAINT tax_rates_name_present CHECK (length(btrim(name)) > 0),
    rate_bp    integer     NOT NULL CONSTRAINT tax_rates_rate_range CHECK (rate_bp BETWEEN 0 AND 10000),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tax_rates_country_region_key UNIQUE (country, region)
);

CREATE TABLE discount_codes (
    id                 uuid        PRIMARY KEY,
    code               text        NOT NULL CONSTRAINT discount_codes_code_format CHECK (code ~ '^[A-Za-z0-9_-]{1,50}$'),
    kind               text        NOT NULL CONSTRAINT discount_codes_kind_known CHECK (kind IN ('percentage', 'fixed_amount', 'free_shipping')),
    -- percentage: basis points (1 % = 100); fixed_amount: minor units; free_shipping: 0.
    value              bigint      NOT NULL DEFAULT 0 CONSTRAINT discount_codes_value_not_negative CHECK (value >= 0),
    min_subtotal_minor bigint      NOT NULL DEFAULT 0 CONSTRAINT discount_codes_min_not_negative CHECK (min_subtotal_minor >= 0),
    starts_at          timestamptz NOT NULL DEFAULT now(),
    ends_at            timestamptz,
    usage_limit        integer     CONSTRAINT discount_codes_usage_limit_positive CHECK (usage_limit > 0),
    times_used         integer     NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT discount_codes_within_limit CHECK (usage_limit IS NULL OR times_used <= usage_limit),
    CONSTRAINT discount_codes_percentage_range CHECK (kind <> 'percentage' OR value <= 10000)
);
CREATE UNIQUE INDEX discount_codes_code_key ON discount_codes (lower(code));

-- Order numbers per store (each store has its own schema, so its own sequence).
CREATE SEQUENCE order_numbers START WITH 1001;

CREATE TABLE orders (
    id                  uuid        PRIMARY KEY,
    number              bigint      NOT NULL CONSTRAINT orders_number_key UNIQUE,
    -- The shopper's order page: /orders/{token}.
    token               text        NOT NULL CONSTRAINT orders_token_key UNIQUE
                                    CONSTRAINT orders_token_length CHECK (length(token) >= 32),
    idempotency_key     text        NOT NULL CONSTRAINT orders_idempotency_key_key UNIQUE,
    email               text        NOT NULL,
    customer_id         uuid,
    currency            text        NOT NULL CONSTRAINT orders_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    shipping_address    jsonb       NOT NULL,
    billing_address     jsonb,
    shipping_rate_id    uuid,
    shipping_method     text        NOT NULL DEFAULT '',
    discount_code       text,
    subtotal_minor      bigint      NOT NULL,
    discount_minor      bigint      NOT NULL,
    shipping_minor      bigint      NOT NULL,
    tax_minor           bigint      NOT NULL,
    taxes_included      boolean     NOT NULL,
    tax_lines           jsonb       NOT NULL DEFAULT '[]',
    total_minor         bigint      NOT NULL,
    refunded_minor      bigint      NOT NULL DEFAULT 0,
    status              text        NOT NULL DEFAULT 'open' CONSTRAINT orders_status_known CHECK (status IN ('open', 'cancelled')),
    financial_status    text        NOT NULL DEFAULT 'pending'
                                    CONSTRAINT orders_financial_status_known CHECK (financial_status IN ('pending', 'paid', 'partially_refunded', 'refunded', 'failed', 'voided')),
    fulfillment_status  text        NOT NULL DEFAULT 'unfulfilled'
                                    CONSTRAINT orders_fulfillment_status_known CHECK (fulfillment_status IN ('unfulfilled', 'partially_fulfilled', 'fulfilled')),
    payment_ref         text,
    cancel_reason       text,
    placed_at           timestamptz NOT NULL DEFAULT now(),
    reserved_until      timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_amounts_not_negative CHECK (subtotal_minor >= 0 AND discount_minor >= 0 AND shipping_minor >= 0
        AND tax_minor >= 0 AND total_minor >= 0 AND refunded_minor >= 0 AND refunded_minor <= total_minor)
);
CREATE INDEX orders_newest ON orders (number DESC);
CREATE INDEX orders_email ON orders (lower(email));
CREATE INDEX orders_customer ON orders (customer_id, number DESC) WHERE customer_id IS NOT NULL;
-- The sweeper's work list: unpaid open orders by reservation deadline.
CREATE INDEX orders_reservation_due ON orders (reserved_until) WHERE status = 'open' AND financial_status = 'pending';

-- What was bought, as it was at the time (titles and prices do not follow later edits).
CREATE TABLE order_lines (
    order_id           uuid     NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position           integer  NOT NULL,
    variant_id         uuid,
    product_id         uuid,
    product_title      text     NOT NULL,
    variant_title      text     NOT NULL DEFAULT '',
    sku                text     NOT NULL DEFAULT '',
    unit_price_minor   bigint   NOT NULL,
    quantity           integer  NOT NULL CONSTRAINT order_lines_quantity_positive CHECK (quantity > 0),
    weight_grams       integer  NOT NULL DEFAULT 0,
    subtotal_minor     bigint   NOT NULL,
    discount_minor     bigint   NOT NULL,
    total_minor        bigint   NOT NULL,
    tax_minor          bigint   NOT NULL,
    fulfilled_quantity integer  NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, position),
    CONSTRAINT order_lines_fulfilled_range CHECK (fulfilled_quantity BETWEEN 0 AND quantity)
);

-- The order's history, oldest first.
CREATE TABLE order_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   uuid        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    details    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order ON order_events (order_id, id);

CREATE TABLE fulfillments (
    id         uuid        PRIMARY KEY,
    order_id   uuid        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    carrier    text        NOT NULL DEFAULT '',
    tracking   text        NOT NULL DEFAULT '',
    -- [{"position": 1, "quantity": 2}, ...]
    lines      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fulfillments_order ON fulfillments (order_id, created_at);

-- Stock held for an order: taken off the variant when placed (reserved), kept on payment
-- (committed), given back on failure, cancellation or timeout (released).
CREATE TABLE stock_reservations (
    order_id   uuid        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    variant_id uuid        NOT NULL,
    quantity   integer     NOT NULL CONSTRAINT stock_reservations_quantity_positive CHECK (quantity > 0),
    state      text        NOT NULL DEFAULT 'reserved' CONSTRAINT stock_reservations_state_known CHECK (state IN ('reserved', 'committed', 'released')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, variant_id)
);
CREATE INDEX stock_reservations_variant ON stock_reservations (variant_id) WHERE state = 'reserved';
