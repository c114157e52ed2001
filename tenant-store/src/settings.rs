//! Store settings: name, branding, contact and address, currency, policies and storefront
//! options. One row per store; every change writes a `settings.updated` event.

use serde::Serialize;
use sqlx::PgConnection;

use crate::catalog::{BodyFormat, render_body};
use crate::{StoreError, outbox};

/// Longest store name, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// Longest policy text, in characters.
pub const MAX_POLICY_CHARS: usize = 65_536;

/// The settings a store is born with.
#[derive(Clone, Debug)]
pub struct SeedSettings<'a> {
    /// Store name shown to shoppers.
    pub name: &'a str,
    /// Where shoppers' enquiries and order notifications go.
    pub contact_email: &'a str,
    /// ISO 4217 code of the store's currency.
    pub currency: &'a str,
}

/// A store's settings as shoppers and merchants see them.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct StoreSettings {
    /// Store name shown to shoppers.
    pub name: String,
    /// Where shoppers' enquiries and order notifications go.
    pub contact_email: String,
    /// ISO 4217 code of the store's currency.
    pub currency: String,
    /// IANA time zone for dates shown to the merchant.
    pub timezone: String,
    /// Language of the storefront.
    pub locale: String,
    /// Stock at or below which a variant counts as low.
    pub low_stock_threshold: i32,
    /// Media storage key of the logo, if one was uploaded.
    pub logo_key: Option<String>,
    /// Alt text of the logo (the store name when empty).
    pub logo_alt: String,
    /// Accent colour (`#rrggbb`): buttons and links.
    pub color_accent: String,
    /// Text colour (`#rrggbb`).
    pub color_text: String,
    /// Page background colour (`#rrggbb`).
    pub color_background: String,
    /// Contact phone number, as the merchant writes it.
    pub phone: String,
    /// Street address, first line.
    pub address_line1: String,
    /// Street address, second line.
    pub address_line2: String,
    /// City.
    pub city: String,
    /// State, province or region.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, or empty.
    pub country: String,
    /// Title of the home page for search engines (the store name when empty).
    pub seo_title: String,
    /// Meta description of the home page.
    pub seo_description: String,
    /// Refund policy, Markdown.
    pub refund_policy: String,
    /// Refund policy, sanitized HTML.
    pub refund_policy_html: String,
    /// Shipping policy, Markdown.
    pub shipping_policy: String,
    /// Shipping policy, sanitized HTML.
    pub shipping_policy_html: String,
    /// Privacy policy, Markdown.
    pub privacy_policy: String,
    /// Privacy policy, sanitized HTML.
    pub privacy_policy_html: String,
    /// Terms of service, Markdown.
    pub terms_of_service: String,
    /// Terms of service, sanitized HTML.
    pub terms_of_service_html: String,
    /// `disabled` (guest checkout only) or `optional` (shoppers may register).
    pub customer_accounts: String,
}

impl StoreSettings {
    /// Whether shoppers may register and sign in.
    pub fn customer_accounts_enabled(&self) -> bool {
        self.customer_accounts == "optional"
    }
}

/// The settings columns, in [`StoreSettings`] order.
pub(crate) const COLUMNS: &str = "name, contact_email, currency, timezone, locale, low_stock_threshold, \
     logo_key, logo_alt, color_accent, color_text, color_background, phone, address_line1, \
     address_line2, city, region, postal_code, country, seo_title, seo_description, \
     refund_policy, refund_policy_html, shipping_policy, shipping_policy_html, privacy_policy, \
     privacy_policy_html, terms_of_service, terms_of_service_html, customer_accounts";

/// What the merchant may change on the settings screen (the logo has its own calls).
#[derive(Clone, Debug, Default)]
pub struct SettingsInput {
    /// Store name.
    pub name: String,
    /// Contact email (already checked for shape by the caller, which knows the rules).
    pub contact_email: String,
    /// ISO 4217 code (the caller checks it names a currency it can format).
    pub currency: String,
    /// Whether the new currency has a different number of minor units than the old one:
    /// stored prices would then change value, so it is refused while products exist.
    pub currency_rescales_prices: bool,
    /// IANA time zone name.
    pub timezone: String,
    /// Low-stock threshold.
    pub low_stock_threshold: String,
    /// Logo alt text.
    pub logo_alt: String,
    /// Colours, `#rrggbb` (upper case is accepted).
    pub color_accent: String,
    /// Text colour.
    pub color_text: String,
    /// Background colour.
    pub color_background: String,
    /// Phone.
    pub phone: String,
    /// Address line 1.
    pub address_line1: String,
    /// Address line 2.
    pub address_line2: String,
    /// City.
    pub city: String,
    /// Region.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// Country code (two letters, any case) or empty.
    pub country: String,
    /// SEO title.
    pub seo_title: String,
    /// SEO description.
    pub seo_description: String,
    /// Refund policy (Markdown).
    pub refund_policy: String,
    /// Shipping policy (Markdown).
    pub shipping_policy: String,
    /// Privacy policy (Markdown).
    pub privacy_policy: String,
    /// Terms of service (Markdown).
    pub terms_of_service: String,
    /// `disabled` or `optional`.
    pub customer_accounts: String,
}

/// Writes the first settings row of a new store.
pub async fn seed(conn: &mut PgConnection, seed: &SeedSettings<'_>) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO settings (name, contact_email, currency) VALUES ($1, $2, $3)")
        .bind(seed.name)
        .bind(seed.contact_email)
        .bind(seed.currency)
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads the store's settings.
pub async fn load(conn: &mut PgConnection) -> Result<StoreSettings, StoreError> {
    sqlx::query_as::<_, StoreSettings>(&format!("SELECT {COLUMNS} FROM settings"))
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

fn colour(field: &str, value: &str, errors: &mut Vec<(String, String)>) -> String {
    let v = value.trim().to_ascii_lowercase();
    let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        errors.push((field.to_owned(), "must be a colour like #2d6a4f".to_owned()));
    }
    v
}

fn bounded(field: &str, value: &str, max: usize, errors: &mut Vec<(String, String)>) -> String {
    let v = value.trim().to_owned();
    if v.chars().count() > max {
        errors.push((
            field.to_owned(),
            format!("must be at most {max} characters"),
        ));
    }
    v
}

/// Validates and saves the settings; every problem is reported with its field, and
/// nothing is written unless all fields are valid.
pub async fn update(
    conn: &mut PgConnection,
    input: &SettingsInput,
) -> Result<StoreSettings, StoreError> {
    let mut errors = Vec::new();
    let name = bounded("name", &input.name, MAX_NAME_CHARS, &mut errors);
    if name.is_empty() {
        errors.push(("name".into(), "can't be blank".into()));
    }
    let contact_email = input.contact_email.trim().to_owned();
    let currency = input.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        errors.push((
            "currency".into(),
            "must be a three-letter code like EUR".into(),
        ));
    }
    let timezone = input.timezone.trim().to_owned();
    if timezone.is_empty() || timezone.len() > 64 {
        errors.push(("timezone".into(), "must name a time zone".into()));
    }
    let threshold = match input.low_stock_threshold.trim().parse::<i32>() {
        Ok(n) if (0..=1_000_000).contains(&n) => n,
        _ => {
            errors.push((
                "low_stock_threshold".into(),
                "must be a whole number from 0 to 1000000".into(),
            ));
            0
        }
    };
    let logo_alt = bounded("logo_alt", &input.logo_alt, 512, &mut errors);
    let color_accent = colour("color_accent", &input.color_accent, &mut errors);
    let color_text = colour("color_text", &input.color_text, &mut errors);
    let color_background = colour("color_background", &input.color_background, &mut errors);
    let phone = bounded("phone", &input.phone, 40, &mut errors);
    let address_line1 = bounded("address_line1", &input.address_line1, 200, &mut errors);
    let address_line2 = bounded("address_line2", &input.address_line2, 200, &mut errors);
    let city = bounded("city", &input.city, 120, &mut errors);
    let region = bounded("region", &input.region, 120, &mut errors);
    let postal_code = bounded("postal_code", &input.postal_code, 20, &mut errors);
    let country = input.country.trim().to_ascii_uppercase();
    if !(country.is_empty()
        || (country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase())))
    {
        errors.push((
            "country".into(),
            "must be a two-letter country code like DE".into(),
        ));
    }
    let seo_title = bounded("seo_title", &input.seo_title, 70, &mut errors);
    let seo_description = bounded("seo_description", &input.seo_description, 320, &mut errors);
    let policies = [
        ("refund_policy", &input.refund_policy),
        ("shipping_policy", &input.shipping_policy),
        ("privacy_policy", &input.privacy_policy),
        ("terms_of_service", &input.terms_of_service),
    ]
    .map(|(field, text)| {
        let source = bounded(field, text, MAX_POLICY_CHARS, &mut errors);
        let html = render_body(&source, BodyFormat::Markdown);
        (source, html)
    });
    let customer_accounts = input.customer_accounts.trim().to_owned();
    if !matches!(customer_accounts.as_str(), "disabled" | "optional") {
        errors.push((
            "customer_accounts".into(),
            "must be disabled or optional".into(),
        ));
    }

    let current = load(conn).await?;
    if currency != current.currency && input.currency_rescales_prices {
        let has_products: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM products)")
            .fetch_one(&mut *conn)
            .await?;
        if has_products {
            errors.push((
                "currency".into(),
                format!(
                    "can't change from {} to {currency} while products exist: their prices would change value",
                    current.currency
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }

    let [refund, shipping, privacy, terms] = policies;
    let saved = sqlx::query_as::<_, StoreSettings>(&format!(
        "UPDATE settings SET name = $1, contact_email = $2, currency = $3, timezone = $4, \
         low_stock_threshold = $5, logo_alt = $6, color_accent = $7, color_text = $8, \
         color_background = $9, phone = $10, address_line1 = $11, address_line2 = $12, \
         city = $13, region = $14, postal_code = $15, country = $16, seo_title = $17, \
         seo_description = $18, refund_policy = $19, refund_policy_html = $20, \
         shipping_policy = $21, shipping_policy_html = $22, privacy_policy = $23, \
         privacy_policy_html = $24, terms_of_service = $25, terms_of_service_html = $26, \
         customer_accounts = $27, updated_at = now() \
         RETURNING {COLUMNS}"
    ))
    .bind(&name)
    .bind(&contact_email)
    .bind(&currency)
    .bind(&timezone)
    .bind(threshold)
    .bind(&logo_alt)
    .bind(&color_accent)
    .bind(&color_text)
    .bind(&color_background)
    .bind(&phone)
    .bind(&address_line1)
    .bind(&address_line2)
    .bind(&city)
    .bind(&region)
    .bind(&postal_code)
    .bind(&country)
    .bind(&seo_title)
    .bind(&seo_description)
    .bind(&refund.0)
    .bind(&refund.1)
    .bind(&shipping.0)
    .bind(&shipping.1)
    .bind(&privacy.0)
    .bind(&privacy.1)
    .bind(&terms.0)
    .bind(&terms.1)
    .bind(&customer_accounts)
    .fetch_one(&mut *conn)
    .await?;
    emit_updated(conn, &saved).await?;
    Ok(saved)
}

/// Sets (or with `None`, removes) the logo. Returns the key it replaced.
pub async fn set_logo(
    conn: &mut PgConnection,
    logo_key: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let previous: Option<String> = sqlx::query_scalar("SELECT logo_key FROM settings")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("UPDATE settings SET logo_key = $1, updated_at = now()")
        .bind(logo_key)
        .execute(&mut *conn)
        .await?;
    let saved = load(conn).await?;
    emit_updated(conn, &saved).await?;
    Ok(previous)
}

async fn emit_updated(conn: &mut PgConnection, s: &StoreSettings) -> Result<(), StoreError> {
    outbox::emit(
        conn,
        "settings.updated",
        serde_json::json!({ "name": s.name, "currency": s.currency, "logo_key": s.logo_key }),
    )
    .await
}
