//! URL handles of products and collections (`blue-cotton-shirt`).

use std::fmt;

use serde::Serialize;

/// Longest handle accepted.
const MAX_LEN: usize = 255;

/// A lowercase URL segment of letters, digits and single hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Handle(String);

impl Handle {
    /// Parses a handle the merchant typed (trimmed and lowercased first).
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err("can't be blank".into());
        }
        if s.len() > MAX_LEN {
            return Err(format!("must be at most {MAX_LEN} characters"));
        }
        let ok = s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !ok {
            return Err("may contain only letters, digits and single hyphens between them".into());
        }
        Ok(Self(s))
    }

    /// A handle made from a title: "Blue Cotton Shirt (XL)!" becomes `blue-cotton-shirt-xl`.
    /// Accented Latin letters lose their accents; other characters separate words.
    pub fn from_title(title: &str) -> Self {
        let mut out = String::new();
        for c in title.chars().flat_map(fold) {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let mut s = out.trim_end_matches('-').to_owned();
        s.truncate(MAX_LEN - 8); // room for a "-NNN" suffix
        let s = s.trim_end_matches('-');
        Self(if s.is_empty() {
            "item".into()
        } else {
            s.to_owned()
        })
    }

    /// This handle with a numeric suffix (`shirt-2`), for de-duplicating derived handles.
    pub fn with_suffix(&self, n: u32) -> Self {
        Self(format!("{}-{n}", self.0))
    }

    /// The handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Folds common accented Latin letters to ASCII ("é" to "e", "ß" to "ss").
fn fold(c: char) -> impl Iterator<Item = char> {
    let s: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'œ' | 'Œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => "",
    };
    let single = if s.is_empty() { Some(c) } else { None };
    s.chars().chain(single)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_from_titles() {
        assert_eq!(
            Handle::from_title("Blue Cotton Shirt (XL)!").as_str(),
            "blue-cotton-shirt-xl"
        );
        assert_eq!(Handle::from_title("  Café Crème  ").as_str(), "cafe-creme");
        assert_eq!(Handle::from_title("Straße 5").as_str(), "strasse-5");
        assert_eq!(Handle::from_title("日本").as_str(), "item");
        assert_eq!(Handle::from_title("a--b").as_str(), "a-b");
        assert!(Handle::from_title(&"x".repeat(400)).as_str().len() <= 247);
    }

    #[test]
    fn typed_handles_are_checked() {
        assert_eq!(
            Handle::parse(" Blue-Shirt ").unwrap().as_str(),
            "blue-shirt"
        );
        for bad in ["", "-a", "a-", "a--b", "a b", "a/b", "é"] {
            assert!(Handle::parse(bad).is_err(), "{bad:?}");
        }
    }
}
