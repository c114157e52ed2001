-- Store settings the merchant edits: branding, contact and address, policies, storefront
-- options. Colours are #rrggbb; policies keep the merchant's Markdown and its sanitized HTML.

ALTER TABLE settings
    ADD COLUMN logo_key         text,
    ADD COLUMN logo_alt         text    NOT NULL DEFAULT '',
    ADD COLUMN color_accent     text    NOT NULL DEFAULT '#2d6a4f'
        CONSTRAINT settings_color_accent_format CHECK (color_accent ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN color_text       text    NOT NULL DEFAULT '#1d1d1f'
        CONSTRAINT settings_color_text_format CHECK (color_text ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN color_background text    NOT NULL DEFAULT '#ffffff'
        CONSTRAINT settings_color_background_format CHECK (color_background ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN phone            text    NOT NULL DEFAULT '',
    ADD COLUMN address_line1    text    NOT NULL DEFAULT '',
    ADD COLUMN address_line2    text    NOT NULL DEFAULT '',
    ADD COLUMN city             text    NOT NULL DEFAULT '',
    ADD COLUMN region           text    NOT NULL DEFAULT '',
    ADD COLUMN postal_code      text    NOT NULL DEFAULT '',
    ADD COLUMN country          text    NOT NULL DEFAULT ''
        CONSTRAINT settings_country_format CHECK (country = '' OR country ~ '^[A-Z]{2}$'),
    ADD COLUMN seo_title        text    NOT NULL DEFAULT '',
    ADD COLUMN seo_description  text    NOT NULL DEFAULT '',
    ADD COLUMN refund_policy    text    NOT NULL DEFAULT '',
    ADD COLUMN refund_policy_html    text NOT NULL DEFAULT '',
    ADD COLUMN shipping_policy  text    NOT NULL DEFAULT '',
    ADD COLUMN shipping_policy_html  text NOT NULL DEFAULT '',
    ADD COLUMN privacy_policy   text    NOT NULL DEFAULT '',
    ADD COLUMN privacy_policy_html   text NOT NULL DEFAULT '',
    ADD COLUMN terms_of_service text    NOT NULL DEFAULT '',
    ADD COLUMN terms_of_service_html text NOT NULL DEFAULT '',
    -- 'disabled': guest checkout only; 'optional': shoppers may register and sign in.
    ADD COLUMN customer_accounts text   NOT NULL DEFAULT 'disabled'
        CONSTRAINT settings_customer_accounts_known CHECK (customer_accounts IN ('disabled', 'optional'));
