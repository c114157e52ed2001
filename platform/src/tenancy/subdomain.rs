//! A store's subdomain on the platform domain: a DNS label that is not reserved.

use std::fmt;

/// Labels kept for the platform itself or that would mislead shoppers.
const RESERVED: &[&str] = &[
    "www",
    "admin",
    "api",
    "mail",
    "app",
    "platform",
    "status",
    "cdn",
    "smtp",
    "imap",
    "pop",
    "pop3",
    "ftp",
    "ns1",
    "ns2",
    "dns",
    "mx",
    "static",
    "assets",
    "media",
    "img",
    "images",
    "help",
    "support",
    "docs",
    "blog",
    "billing",
    "dashboard",
    "operator",
    "login",
    "signup",
    "auth",
    "account",
    "accounts",
    "internal",
    "webhooks",
    "metrics",
    "health",
    "localhost",
    "demo-admin",
    "root",
    "postmaster",
    "abuse",
    "security",
    "test",
];

/// A validated subdomain: 3-63 characters of lowercase letters, digits and hyphens, not
/// starting or ending with a hyphen, not a reserved word.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subdomain(String);

impl Subdomain {
    /// Parses what a merchant typed. Surrounding spaces are trimmed and letters lowercased;
    /// anything else that is not allowed is refused with a sentence saying why.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err("choose a subdomain for your store".into());
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "may contain only letters, digits and hyphens (not {c:?})"
            ));
        }
        if s.len() < 3 || s.len() > 63 {
            return Err("must be 3 to 63 characters long".into());
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err("must not start or end with a hyphen".into());
        }
        if s.get(2..4) == Some("--") {
            return Err("must not have hyphens in the third and fourth places".into());
        }
        if RESERVED.contains(&s.as_str()) {
            return Err(format!("“{s}” is reserved; choose another"));
        }
        Ok(Self(s))
    }

    /// The label, e.g. `acme`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels_and_lowercases_them() {
        assert_eq!(Subdomain::parse("acme").unwrap().as_str(), "acme");
        assert_eq!(
            Subdomain::parse(" Acme-Shop2 ").unwrap().as_str(),
            "acme-shop2"
        );
        assert!(Subdomain::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn refuses_bad_labels_with_a_reason() {
        let cases = [
            ("", "choose"),
            ("ab", "3 to 63"),
            (&"a".repeat(64), "3 to 63"),
            ("-acme", "hyphen"),
            ("acme-", "hyphen"),
            ("xn--acme", "third and fourth"),
            ("ac me", "letters, digits"),
            ("acmé", "letters, digits"),
            ("a.b.c", "letters, digits"),
            ("www", "reserved"),
            ("Admin", "reserved"),
            ("api", "reserved"),
            ("mail", "reserved"),
            ("app", "reserved"),
            ("platform", "reserved"),
            ("status", "reserved"),
            ("cdn", "reserved"),
        ];
        for (input, reason) in cases {
            let err = Subdomain::parse(input).expect_err(input);
            assert!(err.contains(reason), "{input:?}: {err}");
        }
    }
}
