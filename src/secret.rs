//! Configuration values that must never be printed: the admin token, the JWT secret and
//! the database URL's password. `Debug` (and so any log or error that formats the
//! settings) shows them redacted; code that needs the value asks for it by name.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// A secret setting (`SHOP_ADMIN_TOKEN`, `SHOP_JWT_SECRET`).
pub type Secret = SecretString;

/// For clap: the raw value as a secret.
pub fn parse_secret(raw: &str) -> Result<Secret, String> {
    Ok(SecretString::from(raw.to_owned()))
}

/// A URL that may carry a password (`SHOP_DATABASE_URL`, `SHOP_REDIS_URL`): connects with
/// the whole URL, prints it with the password replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The URL to connect with, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password (if any) replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut parsed) if parsed.password().is_some() => {
                // Setting a password fails only for URLs that cannot have one.
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(_) => self.0.clone(),
            Err(_) => "(unparsable URL)".to_owned(),
        }
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The secret's value, for the one place that uses it.
pub fn expose(secret: &Secret) -> &str {
    secret.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_never_prints_its_password() {
        let url = SecretUrl::from("mysql://shop:hunter2@127.0.0.1:3306/shop");
        assert_eq!(url.expose(), "mysql://shop:hunter2@127.0.0.1:3306/shop");
        for printed in [format!("{url}"), format!("{url:?}")] {
            assert!(!printed.contains("hunter2"), "{printed}");
            assert!(
                printed.contains("shop:***@127.0.0.1:3306/shop"),
                "{printed}"
            );
        }
        assert_eq!(
            SecretUrl::from("sqlite://data/shop.db").redacted(),
            "sqlite://data/shop.db"
        );
    }

    #[test]
    fn a_secret_setting_debugs_redacted() {
        let secret = parse_secret("s3cret").unwrap();
        assert!(!format!("{secret:?}").contains("s3cret"));
        assert_eq!(expose(&secret), "s3cret");
    }
}
