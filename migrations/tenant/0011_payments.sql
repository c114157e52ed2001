-- Payments: the gateways a store enabled, the inbox of handled gateway webhooks, store
-- credit with its ledger, and what an order knows of its payment. Expand-only.

-- One row per gateway the merchant configured. `settings` is billing's GatewaySettings as
-- JSON: secrets in it are sealed with a key derived from SECRET_KEY, never stored in clear.
CREATE TABLE payment_gateways (
    name       text        PRIMARY KEY CONSTRAINT payment_gateways_name_known
                           CHECK (name IN ('manual', 'stripe', 'test', 'store_credit')),
    enabled    boolean     NOT NULL DEFAULT true,
    -- What the shopper sees at checkout ("Bank transfer", "Card").
    label      text        NOT NULL CONSTRAINT payment_gateways_label_present CHECK (length(btrim(label)) > 0),
    settings   jsonb       NOT NULL,
    position   integer     NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Webhooks already applied, by the gateway's event id: a redelivery is answered and skipped.
CREATE TABLE webhook_inbox (
    gateway     text        NOT NULL,
    event_id    text        NOT NULL,
    order_id    uuid,
    outcome     text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, event_id)
);

ALTER TABLE orders ADD COLUMN gateway text;
-- Set when a gateway reported something that does not fit the order (an amount or a
-- currency that differs): the merchant looks, nothing is taken as paid.
ALTER TABLE orders ADD COLUMN payment_flag text;
CREATE INDEX orders_payment_ref ON orders (payment_ref) WHERE payment_ref IS NOT NULL;
CREATE INDEX orders_placed ON orders (placed_at);

-- Store credit: the balance is the running sum of the ledger and never goes negative.
ALTER TABLE customers ADD COLUMN credit_minor bigint NOT NULL DEFAULT 0
    CONSTRAINT customers_credit_not_negative CHECK (credit_minor >= 0);

CREATE TABLE store_credit_ledger (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id   uuid        NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    delta_minor   bigint      NOT NULL CONSTRAINT store_credit_delta_not_zero CHECK (delta_minor <> 0),
    balance_minor bigint      NOT NULL CONSTRAINT store_credit_balance_not_negative CHECK (balance_minor >= 0),
    reason        text        NOT NULL CONSTRAINT store_credit_reason_present CHECK (length(btrim(reason)) > 0),
    order_id      uuid,
    actor         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX store_credit_ledger_customer ON store_credit_ledger (customer_id, id DESC);
-- One debit and one refund credit per order at most: a retried payment cannot pay twice.
CREATE UNIQUE INDEX store_credit_ledger_order_debit ON store_credit_ledger (order_id)
    WHERE order_id IS NOT NULL AND delta_minor < 0;
