//! The name of a tenant's schema, which only the registry hands out.

use std::fmt;

use rand::Rng as _;

/// Length of the random part of a schema name (`t_` + this many base-36 characters).
const ID_LEN: usize = 10;
const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A tenant schema name of the form `t_<10 lowercase base-36 chars>`.
///
/// Safe to splice into DDL: the format admits nothing that needs quoting.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TenantSchema(String);

impl TenantSchema {
    /// A fresh random schema name for a tenant being provisioned.
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let id: String = (0..ID_LEN)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        Self(format!("t_{id}"))
    }

    /// A schema name read back from the platform registry. Refuses anything that is not
    /// exactly a generated name, so a corrupt row can never widen into other schemas.
    pub fn from_registry(name: String) -> Result<Self, crate::StoreError> {
        let ok = name.len() == ID_LEN + 2
            && name.starts_with("t_")
            && name[2..].bytes().all(|b| ALPHABET.contains(&b));
        if ok {
            Ok(Self(name))
        } else {
            Err(crate::StoreError::invalid(
                "schema_name",
                format!("{name:?} is not a tenant schema name"),
            ))
        }
    }

    /// The schema name, e.g. `t_0a1b2c3d4e`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantSchema({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_round_trip_through_the_registry_check() {
        for _ in 0..100 {
            let s = TenantSchema::generate();
            assert_eq!(TenantSchema::from_registry(s.0.clone()).unwrap(), s);
        }
    }

    #[test]
    fn registry_check_refuses_anything_else() {
        for bad in [
            "",
            "public",
            "t_",
            "t_ABCDEFGHIJ",
            "t_abc",
            "t_abcdefghijk",
            "t_abcde\"fghi",
            "x_abcdefghij",
            "t_abcdefghi;",
        ] {
            assert!(TenantSchema::from_registry(bad.into()).is_err(), "{bad}");
        }
    }
}
