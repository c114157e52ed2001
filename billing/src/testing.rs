//! A local stand-in for Stripe's API, and real webhook signatures, for tests only.
//!
//! [`StripeStandIn`] listens on `127.0.0.1`, records every request, and answers with Stripe's
//! JSON shapes for the calls the gateway makes (create and retrieve a Checkout Session,
//! create a refund), including Stripe's idempotency-key replay. Point
//! [`StripeConfig::api_base`](crate::StripeConfig::api_base) at [`StripeStandIn::base_url`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The secret key the stand-in accepts (any `sk_test_` key works).
pub const TEST_SECRET_KEY: &str = "sk_test_standin_0123456789abcdef";
/// A webhook signing secret for tests.
pub const TEST_WEBHOOK_SECRET: &str = "whsec_standin_0123456789abcdef";

/// One request the stand-in received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, such as `/v1/checkout/sessions`.
    pub path: String,
    /// Every header, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The decoded form body (Stripe's bracketed keys kept as sent: `metadata[order_id]`).
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a form field.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    sessions: HashMap<String, Value>,
    /// Amount refunded so far, by PaymentIntent.
    refunded: HashMap<String, i64>,
    /// Stripe replays the first answer to a repeated idempotency key (same parameters).
    idempotent: HashMap<String, Replay>,
    next_id: u64,
}

/// The first answer to an idempotency key, and the parameters it was for.
struct Replay {
    params: Vec<(String, String)>,
    answer: (StatusCode, Value),
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_test_standin{:06}", self.next_id)
    }
}

/// A stand-in for `api.stripe.com`, serving until dropped.
pub struct StripeStandIn {
    base_url: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StripeStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StripeStandIn {
    /// Starts the stand-in on a free loopback port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let app = Router::new().fallback({
            let state = Arc::clone(&state);
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&state);
                async move { handle(&state, method, uri, headers, body) }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("stand-in serves");
        });
        Self {
            base_url: format!("http://{addr}/"),
            state,
            server,
        }
    }

    /// The base URL to configure the gateway with (`http://127.0.0.1:<port>/`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// The session as Stripe would return it now, if it exists.
    pub fn session(&self, id: &str) -> Option<Value> {
        lock(&self.state).sessions.get(id).cloned()
    }

    /// Plays the shopper paying on the hosted page: the session completes, paid, with a
    /// PaymentIntent. Returns the session as it now stands (for a webhook's `data.object`).
    pub fn pay_session(&self, id: &str) -> Value {
        let mut state = lock(&self.state);
        let payment_intent = state.next_id("pi");
        let session = state.sessions.get_mut(id).expect("no such session");
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(payment_intent);
        session.clone()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().expect("no panics while holding the lock")
}

/// Seconds since the Unix epoch, as Stripe timestamps count.
pub fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit in i64")
}

/// A `Stripe-Signature` header value for `payload`, signed the way Stripe signs:
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>" keyed by the secret>`.
pub fn sign_webhook(payload: &str, secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

/// The JSON body of a Stripe event of `event_type` about `object` (a Checkout Session).
pub fn event_payload(event_id: &str, event_type: &str, object: &Value) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": stripe_shared::version::VERSION.as_str(),
        "created": unix_now(),
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    })
    .to_string()
}

fn stripe_error(status: StatusCode, type_: &str, code: &str, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "error": { "type": type_, "code": code, "message": message } }),
    )
}

fn handle(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let recorded = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        form: form.clone(),
    };
    let mut state = lock(state);
    state.requests.push(recorded.clone());

    let authorized = recorded
        .header("authorization")
        .is_some_and(|auth| auth.starts_with("Bearer sk_test_"));
    let (status, body) = if !authorized {
        stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided.",
        )
    } else if let Some(key) = recorded.header("idempotency-key").map(str::to_owned) {
        let key = format!("{} {}", recorded.path, key);
        match state.idempotent.get(&key) {
            Some(replay) if replay.params == form => replay.answer.clone(),
            Some(_) => stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "idempotency_key_in_use",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ),
            None => {
                let answer = route(&mut state, &method, &recorded);
                let replay = Replay {
                    params: form,
                    answer: answer.clone(),
                };
                state.idempotent.insert(key, replay);
                answer
            }
        }
    } else {
        route(&mut state, &method, &recorded)
    };
    (status, axum::Json(body)).into_response()
}

fn route(state: &mut State, method: &Method, req: &RecordedRequest) -> (StatusCode, Value) {
    let path = req.path.as_str();
    match (method.as_str(), path) {
        ("POST", "/v1/checkout/sessions") => create_session(state, req),
        ("GET", _) if path.starts_with("/v1/checkout/sessions/") => {
            let id = &path["/v1/checkout/sessions/".len()..];
            match state.sessions.get(id) {
                Some(session) => (StatusCode::OK, session.clone()),
                None => no_such("checkout.session", id),
            }
        }
        ("POST", "/v1/refunds") => create_refund(state, req),
        _ => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("Unrecognized request URL ({method} {path})."),
        ),
    }
}

fn no_such(kind: &str, id: &str) -> (StatusCode, Value) {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "resource_missing",
        &format!("No such {kind}: '{id}'"),
    )
}

fn missing(param: &str) -> (StatusCode, Value) {
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "parameter_missing",
        &format!("Missing required param: {param}."),
    )
}

/// `metadata[key]=value` fields as a JSON object.
fn metadata(req: &RecordedRequest, prefix: &str) -> Value {
    let map: serde_json::Map<String, Value> = req
        .form
        .iter()
        .filter_map(|(k, v)| {
            let key = k
                .strip_prefix(prefix)?
                .strip_prefix('[')?
                .strip_suffix(']')?;
            Some((key.to_owned(), json!(v)))
        })
        .collect();
    Value::Object(map)
}

fn create_session(state: &mut State, req: &RecordedRequest) -> (StatusCode, Value) {
    let Some(currency) = req.param("line_items[0][price_data][currency]") else {
        return missing("line_items[0][price_data][currency]");
    };
    let Some(unit_amount) = req
        .param("line_items[0][price_data][unit_amount]")
        .and_then(|a| a.parse::<i64>().ok())
    else {
        return missing("line_items[0][price_data][unit_amount]");
    };
    let quantity = req
        .param("line_items[0][quantity]")
        .and_then(|q| q.parse::<i64>().ok())
        .unwrap_or(1);
    if req.param("mode") != Some("payment") {
        return missing("mode");
    }
    let Some(success_url) = req.param("success_url") else {
        return missing("success_url");
    };
    let id = state.next_id("cs");
    let created = unix_now();
    let total = unit_amount * quantity;
    let mut session = json!({
        "id": id,
        "object": "checkout.session",
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "cancel_url": req.param("cancel_url"),
        "client_reference_id": req.param("client_reference_id"),
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "created": created,
        "currency": currency,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null
        },
        "customer": null,
        "customer_creation": "if_required",
        "customer_details": null,
        "customer_email": req.param("customer_email"),
        "expires_at": created + 24 * 3600,
        "invoice": null,
    });
    // Two halves: one `json!` this long exceeds the default macro recursion limit.
    let rest = json!({
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": metadata(req, "metadata"),
        "mode": "payment",
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_options": null,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": success_url,
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
    });
    if let (Some(session), Value::Object(rest)) = (session.as_object_mut(), rest) {
        session.extend(rest);
    }
    state.sessions.insert(id, session.clone());
    (StatusCode::OK, session)
}

fn create_refund(state: &mut State, req: &RecordedRequest) -> (StatusCode, Value) {
    let Some(payment_intent) = req.param("payment_intent") else {
        return missing("payment_intent");
    };
    let Some(session) = state
        .sessions
        .values()
        .find(|s| s["payment_intent"] == json!(payment_intent))
    else {
        return no_such("payment_intent", payment_intent);
    };
    let paid = session["amount_total"].as_i64().unwrap_or(0);
    let currency = session["currency"].clone();
    let refunded = state.refunded.get(payment_intent).copied().unwrap_or(0);
    let amount = match req.param("amount").map(str::parse::<i64>) {
        None => paid - refunded,
        Some(Ok(amount)) if amount > 0 => amount,
        Some(_) => {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "parameter_invalid_integer",
                "Invalid integer: amount",
            );
        }
    };
    if refunded + amount > paid {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "amount_too_large",
            &format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({})",
                paid - refunded
            ),
        );
    }
    state
        .refunded
        .insert(payment_intent.to_owned(), refunded + amount);
    let id = state.next_id("re");
    let refund = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": null,
        "charge": null,
        "created": unix_now(),
        "currency": currency,
        "metadata": metadata(req, "metadata"),
        "payment_intent": payment_intent,
        "reason": null,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    });
    (StatusCode::OK, refund)
}
