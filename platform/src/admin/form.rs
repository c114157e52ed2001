//! What every admin editor does with a submission: read fields by name, turn a refused save
//! into errors keyed by the editor's field names, and answer 422 with the form again.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tenant_store::{StoreError, TenantTx, audit};
use uuid::Uuid;

use crate::error::AppError;

/// A submitted form (`Form<Vec<(String, String)>>`), read by field name.
pub struct Submitted<'a>(&'a [(String, String)]);

impl<'a> Submitted<'a> {
    /// The form's fields as they arrived.
    pub fn new(fields: &'a [(String, String)]) -> Self {
        Self(fields)
    }

    /// The first value sent for `name`, or `""` when it was not sent.
    pub fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Whether the checkbox `name` was ticked (browsers send `on`).
    pub fn checked(&self, name: &str) -> bool {
        self.get(name) == "on"
    }

    /// The field names sent.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(f, _)| f.as_str())
    }
}

/// The field errors of a refused save (keyed by the domain's names: `title`,
/// `items[2].target`), or, when the input was not at fault, the error to answer with.
pub fn field_errors(e: StoreError) -> Result<Vec<(String, String)>, AppError> {
    match e {
        StoreError::Fields(f) => Ok(f),
        StoreError::Invalid { field, message } => Ok(vec![(field.to_owned(), message)]),
        other => Err(other.into()),
    }
}

/// Domain field errors keyed by the editor's field names through `rename`; when two land on
/// one field, the first is shown.
pub fn editor_errors(
    errors: Vec<(String, String)>,
    rename: impl Fn(&str) -> String,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (field, message) in errors {
        out.entry(rename(&field)).or_insert(message);
    }
    out
}

/// Splits a domain name for an entry of a list (`rules[2].value` with `list` = `rules`) into
/// the entry's index and the field's name; `None` for any other name.
pub fn indexed<'f>(field: &'f str, list: &str) -> Option<(usize, &'f str)> {
    let (i, name) = field
        .strip_prefix(list)?
        .strip_prefix('[')?
        .split_once("].")?;
    Some((i.parse().ok()?, name))
}

/// The editor row the `i`th entry sent to the domain came from (blank rows are not sent, so
/// the two differ); `origin[i]` records it. Row 0 when unknown.
pub fn origin_row(origin: &[usize], i: usize) -> usize {
    origin.get(i).copied().unwrap_or(0)
}

/// The editor shown again after a refused save: 422, with the errors and the input in it.
pub fn unprocessable(page: Html<String>) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// How every editor ends a save or delete that went through: `action` (`page.update`) on
/// `subject` (a handle) with the record's `id` goes into the audit log by `actor`, the
/// transaction commits, and the browser is sent to `to`.
pub async fn done(
    mut tx: TenantTx,
    actor: &str,
    action: &str,
    subject: &str,
    id: Uuid,
    to: &str,
) -> Result<Response, AppError> {
    audit::record(
        &mut tx,
        actor,
        action,
        subject,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(to).into_response())
}

/// `<noun>.update` when an existing record was saved, `<noun>.create` otherwise.
pub fn save_action(noun: &str, existing: bool) -> String {
    format!("{noun}.{}", if existing { "update" } else { "create" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_by_name() {
        let sent = vec![
            ("title".to_owned(), "About".to_owned()),
            ("published".to_owned(), "on".to_owned()),
            ("title".to_owned(), "second".to_owned()),
        ];
        let form = Submitted::new(&sent);
        assert_eq!(form.get("title"), "About");
        assert_eq!(form.get("missing"), "");
        assert!(form.checked("published"));
        assert!(!form.checked("title"));
    }

    #[test]
    fn list_entries_are_split_and_traced_to_their_rows() {
        assert_eq!(indexed("rules[2].value", "rules"), Some((2, "value")));
        assert_eq!(indexed("rules[x].value", "rules"), None);
        assert_eq!(indexed("rulesets[1].value", "rules"), None);
        assert_eq!(indexed("title", "rules"), None);
        assert_eq!(origin_row(&[0, 3, 4], 1), 3);
        assert_eq!(origin_row(&[0], 5), 0);
    }

    #[test]
    fn the_first_error_per_editor_field_is_kept() {
        let errors = editor_errors(
            vec![
                ("items[0].title".into(), "first".into()),
                ("items[0].title".into(), "second".into()),
                ("handle".into(), "taken".into()),
            ],
            |f| f.replace("items[0].", "i0_"),
        );
        assert_eq!(errors["i0_title"], "first");
        assert_eq!(errors["handle"], "taken");
    }

    #[test]
    fn only_input_errors_become_field_errors() {
        let f = field_errors(StoreError::invalid("handle", "is taken")).unwrap();
        assert_eq!(f, [("handle".to_owned(), "is taken".to_owned())]);
        assert!(matches!(
            field_errors(StoreError::NotFound),
            Err(AppError::NotFound)
        ));
    }
}
