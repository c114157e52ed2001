//! Orders and customers through the JSON Admin API (Shopify's shapes, filters, counts,
//! cancel / fulfil / refund), and the admin's customer screens with store credit, black-box
//! over HTTP against PostgreSQL: permissions, scopes and isolation between stores.

use super::fixtures::{product, stock};
use std::time::Duration;

use platform::tenancy::Tenant;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use storefront_tests::{Browser, TestApp};
use tenant_store::customers::Address;
use tenant_store::orders::{self, Items, LineRequest, Order, PlaceOrder};
use tenant_store::pricing::{DiscountValue, ShippingRule};
use tenant_store::{discounts, shipping, taxes};
use uuid::Uuid;

/// Creates a token with the command line; the token is its last line of output.
async fn token(app: &TestApp, store: &str, name: &str, scopes: &str) -> String {
    let (result, out) = app
        .cli(
            &[
                "token", "create", "--tenant", store, "--scopes", scopes, "--name", name,
            ],
            "",
        )
        .await;
    result.expect("token create");
    out.lines().last().expect("output").to_owned()
}

/// A script talking to one store's API with one token.
struct Api<'a> {
    app: &'a TestApp,
    host: String,
    token: String,
    client: reqwest::Client,
}

/// What came back.
struct Reply {
    status: u16,
    headers: HeaderMap,
    json: Value,
    text: String,
}

impl<'a> Api<'a> {
    fn new(app: &'a TestApp, store: &str, token: &str) -> Self {
        Self {
            app,
            host: TestApp::store_host(store),
            token: token.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .client
            .request(method, format!("http://{}{path}", self.app.addr))
            .header(reqwest::header::HOST, &self.host)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let res = req.send().await.expect("the app answers");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("a body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"))
        };
        Reply {
            status,
            headers,
            json,
            text,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
}

/// The field names of a 422.
fn fields(reply: &Reply) -> Vec<String> {
    reply.json["error"]["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("field errors ({}): {}", reply.status, reply.text))
        .keys()
        .cloned()
        .collect()
}

/// The `name`s of a list of orders.
fn names(reply: &Reply) -> Vec<String> {
    reply.json["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("orders ({}): {}", reply.status, reply.text))
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The emails of a list of customers.
fn emails(reply: &Reply) -> Vec<String> {
    reply.json["customers"]
        .as_array()
        .unwrap_or_else(|| panic!("customers ({}): {}", reply.status, reply.text))
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_owned())
        .collect()
}

/// The customer record of a checkout email (a guest).
async fn customer(app: &TestApp, t: &Tenant, email: &str, (first, last): (&str, &str)) -> Uuid {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let id = tenant_store::customers::ensure_for_checkout(&mut tx, email, first, last)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Places an order for `lines` by `email` (as `customer`), with optional extras.
async fn place(
    app: &TestApp,
    t: &Tenant,
    lines: &[(Uuid, i32)],
    email: &str,
    customer_id: Option<Uuid>,
    extras: (Option<Uuid>, Option<&str>),
) -> Order {
    let input = PlaceOrder {
        items: Items::Lines(
            lines
                .iter()
                .map(|(variant_id, quantity)| LineRequest {
                    variant_id: *variant_id,
                    quantity: *quantity,
                })
                .collect(),
        ),
        email: email.into(),
        customer_id,
        shipping_address: Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            address1: "1 Analytical Way".into(),
            address2: "Flat 2".into(),
            city: "Los Angeles".into(),
            province: "CA".into(),
            zip: "90001".into(),
            country: "US".into(),
            phone: "555-0100".into(),
            ..Address::default()
        },
        billing_address: None,
        shipping_rate_id: extras.0,
        discount_code: extras.1.map(str::to_owned),
        idempotency_key: Uuid::new_v4().to_string(),
        currency: "USD".into(),
        reservation_ttl: Duration::from_secs(900),
    };
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let order = orders::place_order(&mut tx, &input).await.unwrap();
    tx.commit().await.unwrap();
    order
}

/// Pays the order by bank transfer through the store's manual gateway.
async fn pay(app: &TestApp, t: &Tenant, order: &Order) {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    tenant_store::payments::save_gateway(
        &mut tx,
        "manual",
        true,
        "Bank transfer",
        &json!({"gateway": "manual", "instructions": "Pay to IBAN X"}),
    )
    .await
    .unwrap();
    let payment_ref = format!("manual_{}", order.id.simple());
    orders::set_payment(&mut tx, order.id, "manual", &payment_ref)
        .await
        .unwrap();
    orders::mark_paid(&mut tx, order.id, &payment_ref, order.total_minor)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn reload(app: &TestApp, t: &Tenant, id: Uuid) -> Order {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    orders::get_order(&mut tx, id).await.unwrap()
}

async fn balance(app: &TestApp, t: &Tenant, customer_id: Uuid) -> i64 {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    tenant_store::credit::balance(&mut tx, customer_id)
        .await
        .unwrap()
}

/// Tax, a flat shipping rate and a 10 % code; returns the rate's id.
async fn checkout_settings(app: &TestApp, t: &Tenant) -> Uuid {
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let rate = shipping::create_rate(
        &mut tx,
        &shipping::ShippingRateInput {
            name: "Standard".into(),
            countries: vec!["US".into()],
            rule: ShippingRule::Flat { price_minor: 599 },
            position: 0,
        },
    )
    .await
    .unwrap();
    taxes::create_rate(
        &mut tx,
        &taxes::TaxRateInput {
            country: "US".into(),
            region: String::new(),
            name: "Sales tax".into(),
            rate_bp: 725,
        },
    )
    .await
    .unwrap();
    discounts::create_code(
        &mut tx,
        &discounts::DiscountInput {
            code: "SAVE10".into(),
            value: DiscountValue::percent(10),
            min_subtotal_minor: 0,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rate.id
}

fn usd(minor: i64) -> String {
    billing::Money::new(minor, billing::Currency::parse("USD").unwrap()).to_decimal_string()
}

#[tokio::test]
async fn orders_are_listed_filtered_counted_and_read_in_shopifys_shape() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("apiordlist", "Order API").await;
    let rate = checkout_settings(&app, &t).await;
    let mug = product(&app, &t, "Mug", 1299, 50).await.variant;
    let tee = product(&app, &t, "Tee", 2500, 50).await.variant;
    let ada = customer(&app, &t, "ada@example.com", ("Ada", "Lovelace")).await;

    let first = place(
        &app,
        &t,
        &[(mug, 2), (tee, 1)],
        "ada@example.com",
        Some(ada),
        (Some(rate), Some("save10")),
    )
    .await;
    pay(&app, &t, &first).await;
    let second = place(
        &app,
        &t,
        &[(mug, 1)],
        "guest@example.com",
        None,
        (Some(rate), None),
    )
    .await;
    let third = place(
        &app,
        &t,
        &[(tee, 1)],
        "gone@example.com",
        None,
        (Some(rate), None),
    )
    .await;
    {
        let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
        orders::cancel(&mut tx, third.id, "customer").await.unwrap();
        tx.commit().await.unwrap();
    }

    let api = Api::new(
        &app,
        "apiordlist",
        &token(&app, "apiordlist", "erp", "orders:read,customers:read").await,
    );

    // Default: open orders, newest first.
    let list = api.get("/admin/api/v1/orders.json").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(names(&list), ["#1002", "#1001"]);
    let item = &list.json["orders"][1];
    assert_eq!(item["id"], first.id.to_string());
    assert_eq!(item["order_number"], 1001);
    assert_eq!(item["financial_status"], "paid");
    assert_eq!(item["fulfillment_status"], Value::Null);
    assert_eq!(item["total_price"], usd(first.total_minor));
    assert!(item.get("token").is_none());

    let any = api.get("/admin/api/v1/orders?status=any").await;
    assert_eq!(names(&any), ["#1003", "#1002", "#1001"]);
    let cancelled = api.get("/admin/api/v1/orders.json?status=cancelled").await;
    assert_eq!(names(&cancelled), ["#1003"]);
    let paid = api
        .get("/admin/api/v1/orders.json?status=any&financial_status=paid")
        .await;
    assert_eq!(names(&paid), ["#1001"]);
    let unshipped = api
        .get("/admin/api/v1/orders.json?fulfillment_status=unshipped")
        .await;
    assert_eq!(names(&unshipped), ["#1002", "#1001"]);
    let shipped = api
        .get("/admin/api/v1/orders.json?fulfillment_status=shipped")
        .await;
    assert_eq!(names(&shipped), Vec::<String>::new());

    // Pages of one, linked by the Link header.
    let page1 = api
        .get("/admin/api/v1/orders.json?status=any&limit=1")
        .await;
    assert_eq!(names(&page1), ["#1003"]);
    let link = page1.headers["link"].to_str().unwrap().to_owned();
    assert!(link.ends_with("rel=\"next\""), "{link}");
    let next = link
        .split_once("http://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| format!("/{}", path.split_once('>').unwrap().0))
        .unwrap();
    let page2 = api.get(&next).await;
    assert_eq!(names(&page2), ["#1002"]);

    // Counts follow the same filters.
    for (query, expected) in [
        ("", 2),
        ("?status=any", 3),
        ("?status=cancelled", 1),
        ("?status=any&financial_status=paid", 1),
    ] {
        let c = api
            .get(&format!("/admin/api/v1/orders/count.json{query}"))
            .await;
        assert_eq!(c.status, 200, "{}", c.text);
        assert_eq!(c.json, json!({"count": expected}), "count{query}");
    }
    let c = api.get("/admin/api/v1/orders/count").await;
    assert_eq!(c.json["count"], 2);

    // One order, in full.
    let one = api
        .get(&format!("/admin/api/v1/orders/{}.json", first.id))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(
        !one.text.contains(&first.token),
        "the secret token is never shown"
    );
    let o = &one.json["order"];
    assert_eq!(o["id"], first.id.to_string());
    assert_eq!(o["name"], "#1001");
    assert_eq!(o["order_number"], 1001);
    assert_eq!(o["email"], "ada@example.com");
    assert_eq!(o["currency"], "USD");
    assert_eq!(o["financial_status"], "paid");
    assert_eq!(o["fulfillment_status"], Value::Null);
    assert_eq!(o["cancelled_at"], Value::Null);
    assert_eq!(o["cancel_reason"], Value::Null);
    // 2 × 12.99 + 25.00 = 50.98; 10 % off; 5.99 shipping; tax at 7.25 %.
    assert_eq!(o["total_line_items_price"], "50.98");
    assert_eq!(first.subtotal_minor, 5098);
    assert_eq!(o["total_discounts"], usd(first.discount_minor));
    assert_eq!(o["total_discounts"], "5.10");
    assert_eq!(o["subtotal_price"], "45.88");
    assert_eq!(o["total_tax"], usd(first.tax_minor));
    assert_eq!(o["taxes_included"], first.taxes_included);
    assert_eq!(o["total_price"], usd(first.total_minor));
    assert_eq!(
        o["shipping_lines"],
        json!([{"title": "Standard", "price": "5.99"}])
    );
    assert_eq!(
        o["discount_codes"],
        json!([{"code": first.discount_code.clone().unwrap(), "amount": "5.10"}])
    );
    assert_eq!(
        o["tax_lines"],
        json!([{"title": "Sales tax", "rate": 0.0725, "price": usd(first.tax_minor)}])
    );
    assert_eq!(
        o["customer"],
        json!({"id": ada, "email": "ada@example.com"})
    );
    assert_eq!(
        o["shipping_address"],
        json!({
            "first_name": "Ada", "last_name": "Lovelace", "company": "",
            "address1": "1 Analytical Way", "address2": "Flat 2", "city": "Los Angeles",
            "province": "CA", "zip": "90001", "country_code": "US", "phone": "555-0100",
        })
    );
    let lines = o["line_items"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let mug_line = &lines[0];
    assert_eq!(mug_line["id"], 1);
    assert_eq!(mug_line["variant_id"], mug.to_string());
    assert_eq!(
        mug_line["product_id"],
        first.lines[0].product_id.unwrap().to_string()
    );
    assert_eq!(mug_line["title"], "Mug");
    assert_eq!(mug_line["sku"], "MUG");
    assert_eq!(mug_line["quantity"], 2);
    assert_eq!(mug_line["price"], "12.99");
    assert_eq!(mug_line["fulfillable_quantity"], 2);
    assert_eq!(
        mug_line["total_discount"],
        usd(first.lines[0].discount_minor)
    );
    assert!(o["created_at"].is_string() && o["updated_at"].is_string());

    // A guest's order has no customer; a cancelled one says when and why.
    let guest = api
        .get(&format!("/admin/api/v1/orders/{}", second.id))
        .await;
    assert_eq!(guest.json["order"]["customer"], Value::Null);
    let gone = api
        .get(&format!("/admin/api/v1/orders/{}.json", third.id))
        .await;
    assert!(
        gone.json["order"]["cancelled_at"].is_string(),
        "{}",
        gone.text
    );
    assert_eq!(gone.json["order"]["cancel_reason"], "customer");
    assert_eq!(
        gone.json["order"]["line_items"][0]["fulfillable_quantity"],
        0
    );

    // Errors: unknown ids, bad parameters, missing scopes.
    let missing = api
        .get(&format!("/admin/api/v1/orders/{}.json", Uuid::now_v7()))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(api.get("/admin/api/v1/orders/nope.json").await.status, 404);
    let bad = api.get("/admin/api/v1/orders.json?status=closed").await;
    assert_eq!(bad.status, 422);
    assert_eq!(fields(&bad), ["status"]);
    let bad = api.get("/admin/api/v1/orders.json?limit=0").await;
    assert_eq!(fields(&bad), ["limit"]);
    let bad = api
        .get("/admin/api/v1/orders.json?financial_status=lost")
        .await;
    assert_eq!(fields(&bad), ["financial_status"]);

    let content = Api::new(
        &app,
        "apiordlist",
        &token(&app, "apiordlist", "cms", "content:read").await,
    );
    let refused = content.get("/admin/api/v1/orders.json").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json["error"]["required_scope"], "orders:read");
    let refused = content.get("/admin/api/v1/customers.json").await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn cancel_fulfil_and_refund_through_the_api_change_the_order() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("apiordact", "Order Actions").await;
    let mug = product(&app, &t, "Mug", 1000, 10).await.variant;
    let tee = product(&app, &t, "Tee", 2000, 10).await.variant;
    let shipped = place(
        &app,
        &t,
        &[(mug, 2), (tee, 1)],
        "ship@example.com",
        None,
        (None, None),
    )
    .await;
    pay(&app, &t, &shipped).await;
    let to_cancel = place(
        &app,
        &t,
        &[(mug, 3)],
        "cancel@example.com",
        None,
        (None, None),
    )
    .await;
    pay(&app, &t, &to_cancel).await;
    let unpaid = place(
        &app,
        &t,
        &[(tee, 1)],
        "unpaid@example.com",
        None,
        (None, None),
    )
    .await;
    assert_eq!(stock(&app, &t, mug).await, 5);

    let reader = Api::new(
        &app,
        "apiordact",
        &token(&app, "apiordact", "viewer", "orders:read").await,
    );
    let refused = reader
        .post(
            &format!("/admin/api/v1/orders/{}/cancel.json", to_cancel.id),
            json!({}),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(reload(&app, &t, to_cancel.id).await.status, "open");

    let api = Api::new(
        &app,
        "apiordact",
        &token(&app, "apiordact", "warehouse", "orders:write").await,
    );

    // Part of the first line ships, then the rest.
    let part = api
        .post(
            &format!("/admin/api/v1/orders/{}/fulfillments.json", shipped.id),
            json!({"fulfillment": {"tracking_number": "1Z999", "tracking_company": "UPS",
                   "line_items": [{"id": 1, "quantity": 1}]}}),
        )
        .await;
    assert_eq!(part.status, 201, "{}", part.text);
    assert_eq!(part.json["fulfillment"]["tracking_company"], "UPS");
    assert_eq!(
        part.json["fulfillment"]["line_items"],
        json!([{"id": 1, "quantity": 1}])
    );
    let o = api
        .get(&format!("/admin/api/v1/orders/{}.json", shipped.id))
        .await;
    assert_eq!(o.json["order"]["fulfillment_status"], "partial");
    assert_eq!(o.json["order"]["line_items"][0]["fulfillable_quantity"], 1);
    assert_eq!(o.json["order"]["line_items"][1]["fulfillable_quantity"], 1);

    let too_many = api
        .post(
            &format!("/admin/api/v1/orders/{}/fulfillments", shipped.id),
            json!({"fulfillment": {"line_items": [{"id": 1, "quantity": 5}]}}),
        )
        .await;
    assert_eq!(too_many.status, 422, "{}", too_many.text);
    assert_eq!(fields(&too_many), ["line_items"]);
    let no_line = api
        .post(
            &format!("/admin/api/v1/orders/{}/fulfillments", shipped.id),
            json!({"fulfillment": {"line_items": [{"id": 9, "quantity": 1}]}}),
        )
        .await;
    assert_eq!(fields(&no_line), ["line_items[0].id"]);

    let rest = api
        .post(
            &format!("/admin/api/v1/orders/{}/fulfillments.json", shipped.id),
            json!({"fulfillment": {"tracking_number": "1Z998", "tracking_company": "UPS"}}),
        )
        .await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    let done = reload(&app, &t, shipped.id).await;
    assert_eq!(done.fulfillment_status, "fulfilled");
    assert!(
        done.lines
            .iter()
            .all(|l| l.fulfilled_quantity == l.quantity)
    );

    // An unpaid order does not ship.
    let refused = api
        .post(
            &format!("/admin/api/v1/orders/{}/fulfillments.json", unpaid.id),
            json!({"fulfillment": {}}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);

    // Refunds: part, then more than is left is refused naming the amount.
    let refund = api
        .post(
            &format!("/admin/api/v1/orders/{}/refunds.json", shipped.id),
            json!({"refund": {"amount": "12.50", "restock": false}}),
        )
        .await;
    assert_eq!(refund.status, 201, "{}", refund.text);
    assert_eq!(refund.json["refund"]["amount"], "12.50");
    let o = api
        .get(&format!("/admin/api/v1/orders/{}.json", shipped.id))
        .await;
    assert_eq!(o.json["order"]["financial_status"], "partially_refunded");
    assert_eq!(o.json["order"]["total_refunded"], "12.50");

    let too_much = api
        .post(
            &format!("/admin/api/v1/orders/{}/refunds.json", shipped.id),
            json!({"refund": {"amount": "30.00"}}),
        )
        .await;
    assert_eq!(too_much.status, 422, "{}", too_much.text);
    assert_eq!(fields(&too_much), ["amount"]);
    for bad in ["abc", "-5", "1.234", ""] {
        let r = api
            .post(
                &format!("/admin/api/v1/orders/{}/refunds.json", shipped.id),
                json!({"refund": {"amount": bad}}),
            )
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
        assert_eq!(fields(&r), ["amount"], "{bad}");
    }
    let wrong_type = api
        .post(
            &format!("/admin/api/v1/orders/{}/refunds.json", shipped.id),
            json!({"refund": {"amount": "1.00", "restock": "yes"}}),
        )
        .await;
    assert_eq!(fields(&wrong_type), ["restock"]);
    assert_eq!(reload(&app, &t, shipped.id).await.refunded_minor, 1250);

    let rest = api
        .post(
            &format!("/admin/api/v1/orders/{}/refunds", shipped.id),
            json!({"refund": {"amount": "27.50"}}),
        )
        .await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(
        reload(&app, &t, shipped.id).await.financial_status,
        "refunded"
    );

    // Cancelling a paid order refunds it and puts the stock back.
    let cancelled = api
        .post(
            &format!("/admin/api/v1/orders/{}/cancel.json", to_cancel.id),
            json!({"reason": "customer"}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    let o = &cancelled.json["order"];
    assert!(o["cancelled_at"].is_string(), "{}", cancelled.text);
    assert_eq!(o["cancel_reason"], "customer");
    assert_eq!(o["financial_status"], "refunded");
    assert_eq!(stock(&app, &t, mug).await, 8);
    let open = api.get("/admin/api/v1/orders.json").await;
    assert!(!names(&open).contains(&format!("#{}", to_cancel.number)));

    // A shipped order can't be cancelled.
    let refused = api
        .post(
            &format!("/admin/api/v1/orders/{}/cancel.json", shipped.id),
            json!({}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(reload(&app, &t, shipped.id).await.status, "open");

    // Every change is in the audit log under the token's name.
    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE actor = 'api:warehouse' ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert!(actions.contains(&"order.fulfil".to_owned()), "{actions:?}");
    assert!(actions.contains(&"order.refund".to_owned()), "{actions:?}");
    assert!(actions.contains(&"order.cancel".to_owned()), "{actions:?}");

    let missing = api
        .post(
            &format!("/admin/api/v1/orders/{}/cancel.json", Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn customers_are_listed_searched_counted_and_read_with_their_orders() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("apicust", "Customers API").await;
    let mug = product(&app, &t, "Mug", 1500, 50).await.variant;
    let ada = customer(&app, &t, "ada@example.com", ("Ada", "Lovelace")).await;
    let paid = place(
        &app,
        &t,
        &[(mug, 2)],
        "ada@example.com",
        Some(ada),
        (None, None),
    )
    .await;
    pay(&app, &t, &paid).await;
    place(
        &app,
        &t,
        &[(mug, 1)],
        "ada@example.com",
        Some(ada),
        (None, None),
    )
    .await;
    let bob = {
        let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
        let c = tenant_store::customers::register(
            &mut tx,
            "bob@example.com",
            storefront_tests::UNUSED_PASSWORD_HASH,
            "Bob",
            "Builder",
        )
        .await
        .unwrap();
        tenant_store::credit::adjust(&mut tx, c.id, 1250, "Welcome", None, "test")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        c.id
    };

    let api = Api::new(
        &app,
        "apicust",
        &token(&app, "apicust", "crm", "customers:read,orders:read").await,
    );
    let list = api.get("/admin/api/v1/customers.json").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(emails(&list), ["bob@example.com", "ada@example.com"]);
    let a = &list.json["customers"][1];
    assert_eq!(a["id"], ada.to_string());
    assert_eq!(a["first_name"], "Ada");
    assert_eq!(a["last_name"], "Lovelace");
    assert_eq!(a["phone"], "");
    assert_eq!(a["orders_count"], 2);
    assert_eq!(a["total_spent"], "30.00", "only the paid order counts");
    assert_eq!(a["state"], "disabled");
    assert_eq!(a["store_credit"], "0.00");
    assert!(a["created_at"].is_string());
    let b = &list.json["customers"][0];
    assert_eq!(b["state"], "enabled");
    assert_eq!(b["orders_count"], 0);
    assert_eq!(b["total_spent"], "0.00");
    assert_eq!(b["store_credit"], "12.50");

    let page1 = api.get("/admin/api/v1/customers?limit=1").await;
    assert_eq!(emails(&page1), ["bob@example.com"]);
    let link = page1.headers["link"].to_str().unwrap().to_owned();
    let next = link
        .split_once("http://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| format!("/{}", path.split_once('>').unwrap().0))
        .unwrap();
    let page2 = api.get(&next).await;
    assert_eq!(emails(&page2), ["ada@example.com"]);
    assert!(page2.headers.get("link").is_none());

    let found = api
        .get("/admin/api/v1/customers/search.json?query=ada")
        .await;
    assert_eq!(emails(&found), ["ada@example.com"]);
    let found = api
        .get("/admin/api/v1/customers/search?query=email:bob@example.com")
        .await;
    assert_eq!(emails(&found), ["bob@example.com"]);
    let found = api
        .get("/admin/api/v1/customers/search.json?query=Bob%20Builder")
        .await;
    assert_eq!(emails(&found), ["bob@example.com"]);
    let none = api
        .get("/admin/api/v1/customers/search.json?query=nobody")
        .await;
    assert_eq!(emails(&none), Vec::<String>::new());

    let count = api.get("/admin/api/v1/customers/count.json").await;
    assert_eq!(count.json, json!({"count": 2}));

    let one = api
        .get(&format!("/admin/api/v1/customers/{bob}.json"))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json["customer"]["email"], "bob@example.com");
    assert_eq!(one.json["customer"]["store_credit"], "12.50");
    let one = api.get(&format!("/admin/api/v1/customers/{ada}")).await;
    assert_eq!(one.json["customer"]["orders_count"], 2);
    assert!(one.json["customer"].get("password_hash").is_none());
    assert!(!one.text.contains("argon2"));
    let missing = api
        .get(&format!("/admin/api/v1/customers/{}.json", Uuid::now_v7()))
        .await;
    assert_eq!(missing.status, 404);
}

/// Posts the credit form of a customer's page with the page's CSRF token.
async fn adjust(
    owner: &mut Browser<'_>,
    id: Uuid,
    amount: &str,
    reason: &str,
) -> storefront_tests::Page {
    let page = owner.get(&format!("/admin/customers/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    owner
        .post_form(
            &format!("/admin/customers/{id}/credit"),
            &[("_csrf", &csrf), ("amount", amount), ("reason", reason)],
        )
        .await
}

#[tokio::test]
async fn admin_customers_show_orders_and_store_credit_is_adjusted_with_a_ledger() {
    let app = TestApp::spawn().await;
    let (t, mut owner) = app.store_with_owner("admcust", "Customer Admin").await;
    let mug = product(&app, &t, "Mug", 1500, 50).await.variant;
    let ada = customer(&app, &t, "ada@example.com", ("Ada", "Lovelace")).await;
    let order = place(
        &app,
        &t,
        &[(mug, 2)],
        "ada@example.com",
        Some(ada),
        (None, None),
    )
    .await;
    pay(&app, &t, &order).await;
    customer(&app, &t, "grace@example.com", ("Grace", "Hopper")).await;

    let list = owner.get("/admin/customers").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("ada@example.com"));
    assert!(list.body.contains("grace@example.com"));
    assert!(
        list.body.find("grace@example.com") < list.body.find("ada@example.com"),
        "newest first"
    );
    let row = list
        .body
        .split(&format!("data-customer=\"{ada}\""))
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(row.contains("Ada Lovelace"), "{row}");
    assert!(row.contains(">Guest<"), "{row}");
    assert!(row.contains("class=\"orders-count\">1<"), "{row}");
    assert!(row.contains("class=\"total-spent\">30.00<"), "{row}");
    assert!(row.contains("class=\"credit\">0.00<"), "{row}");

    let found = owner.get("/admin/customers?q=hopper").await;
    assert!(found.body.contains("grace@example.com"));
    assert!(!found.body.contains("ada@example.com"));

    let page = owner.get(&format!("/admin/customers/{ada}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("<a href=\"/admin/orders/{}\">#1001</a>", order.id)),
        "{}",
        page.body
    );
    assert!(page.body.contains("30.00 USD"));
    assert!(page.body.contains("data-balance=\"0.00\""));

    // Up by 25.00, a debit larger than the balance refused, then down by 10.
    let done = adjust(&mut owner, ada, "25.00", "Goodwill for a late parcel").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/admin/customers/{ada}").as_str())
    );
    assert_eq!(balance(&app, &t, ada).await, 2500);

    let refused = adjust(&mut owner, ada, "-30", "Too much").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("data-field=\"amount\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"-30\""),
        "what was typed stays"
    );
    assert_eq!(balance(&app, &t, ada).await, 2500, "nothing changed");

    for (amount, reason, field) in [
        ("abc", "x", "amount"),
        ("1.234", "x", "amount"),
        ("0", "x", "amount"),
        ("5", "  ", "reason"),
    ] {
        let bad = adjust(&mut owner, ada, amount, reason).await;
        assert_eq!(bad.status, 422, "{amount}");
        assert!(
            bad.body.contains(&format!("data-field=\"{field}\"")),
            "{amount}: {}",
            bad.body
        );
    }
    assert_eq!(balance(&app, &t, ada).await, 2500);

    let done = adjust(&mut owner, ada, "-10", "Correction").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(balance(&app, &t, ada).await, 1500);

    let page = owner.get(&format!("/admin/customers/{ada}")).await;
    assert!(
        page.body.contains("data-balance=\"15.00\""),
        "{}",
        page.body
    );
    let entries: Vec<&str> = page.body.split("class=\"ledger-entry\"").skip(1).collect();
    assert_eq!(entries.len(), 2, "one row per change");
    assert!(entries[0].contains("class=\"delta\">-10.00<"));
    assert!(entries[0].contains("class=\"balance\">15.00<"));
    assert!(entries[0].contains("Correction"));
    assert!(entries[0].contains("owner@admcust.example.com"));
    assert!(entries[1].contains("class=\"delta\">+25.00<"));
    assert!(entries[1].contains("Goodwill for a late parcel"));

    let list = owner.get("/admin/customers").await;
    assert!(list.body.contains("class=\"credit\">15.00<"));

    let mut tx = tenant_store::begin(&app.pool, &t.schema).await.unwrap();
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'customer.credit.adjust' \
         AND actor = 'owner@admcust.example.com'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn customers_need_the_permission_and_other_stores_are_out_of_reach() {
    let app = TestApp::spawn().await;
    let (mine, mut owner) = app.store_with_owner("custmine", "Mine").await;
    let (theirs, _) = app.store_with_owner("custtheirs", "Theirs").await;
    let my_customer = customer(&app, &mine, "me@example.com", ("Me", "Mine")).await;
    let mug = product(&app, &theirs, "Mug", 1000, 10).await.variant;
    let their_customer = customer(&app, &theirs, "them@example.com", ("Them", "Theirs")).await;
    let their_order = place(
        &app,
        &theirs,
        &[(mug, 1)],
        "them@example.com",
        Some(their_customer),
        (None, None),
    )
    .await;
    pay(&app, &theirs, &their_order).await;
    {
        let mut tx = tenant_store::begin(&app.pool, &theirs.schema)
            .await
            .unwrap();
        tenant_store::credit::adjust(&mut tx, their_customer, 500, "Gift", None, "test")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    // Staff without the customers permission.
    let mut clerk = app
        .staff_member("custmine", "clerk@example.com", &["products", "orders"])
        .await;
    assert_eq!(clerk.get("/admin/customers").await.status, 403);
    assert_eq!(
        clerk
            .get(&format!("/admin/customers/{my_customer}"))
            .await
            .status,
        403
    );
    let mut helper = app
        .staff_member("custmine", "helper@example.com", &["customers"])
        .await;
    assert_eq!(helper.get("/admin/customers").await.status, 200);

    // The other store's customer is not listed, not shown, not credited.
    let list = owner.get("/admin/customers").await;
    assert!(list.body.contains("me@example.com"));
    assert!(!list.body.contains("them@example.com"));
    assert_eq!(
        owner
            .get(&format!("/admin/customers/{their_customer}"))
            .await
            .status,
        404
    );
    let page = owner.get(&format!("/admin/customers/{my_customer}")).await;
    let csrf = page.csrf();
    let refused = owner
        .post_form(
            &format!("/admin/customers/{their_customer}/credit"),
            &[("_csrf", &csrf), ("amount", "100"), ("reason", "steal")],
        )
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(balance(&app, &theirs, their_customer).await, 500);

    // Through the API too.
    let api = Api::new(
        &app,
        "custmine",
        &token(&app, "custmine", "all", "customers:read,orders:write").await,
    );
    let list = api.get("/admin/api/v1/customers.json").await;
    assert_eq!(emails(&list), ["me@example.com"]);
    let search = api
        .get("/admin/api/v1/customers/search.json?query=them")
        .await;
    assert_eq!(emails(&search), Vec::<String>::new());
    assert_eq!(
        api.get("/admin/api/v1/customers/count.json").await.json["count"],
        1
    );
    assert_eq!(
        api.get(&format!("/admin/api/v1/customers/{their_customer}.json"))
            .await
            .status,
        404
    );
    assert_eq!(
        api.get(&format!("/admin/api/v1/orders/{}.json", their_order.id))
            .await
            .status,
        404
    );
    let list = api.get("/admin/api/v1/orders.json?status=any").await;
    assert_eq!(names(&list), Vec::<String>::new());
    for action in ["cancel.json", "fulfillments.json", "refunds.json"] {
        let body = match action {
            "fulfillments.json" => json!({"fulfillment": {}}),
            "refunds.json" => json!({"refund": {"amount": "1.00"}}),
            _ => json!({}),
        };
        let r = api
            .post(
                &format!("/admin/api/v1/orders/{}/{action}", their_order.id),
                body,
            )
            .await;
        assert_eq!(r.status, 404, "{action}: {}", r.text);
    }
    let untouched = reload(&app, &theirs, their_order.id).await;
    assert_eq!(untouched.status, "open");
    assert_eq!(untouched.financial_status, "paid");
    assert_eq!(untouched.fulfillment_status, "unfulfilled");

    // Their token does not work here.
    let theirs_token = token(&app, "custtheirs", "x", "customers:read,orders:read").await;
    let wrong = Api::new(&app, "custmine", &theirs_token);
    assert_eq!(wrong.get("/admin/api/v1/orders.json").await.status, 401);
}
