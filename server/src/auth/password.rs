//! Password hashing (argon2id, PHC strings) and the rules for usernames and passwords.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Why a username or password was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("username must be 1–64 characters of letters, digits, '.', '-' or '_'")]
    Username,
    #[error("password must be at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("password must be at most 1024 characters")]
    TooLong,
}

pub fn validate_username(name: &str) -> Result<(), CredentialError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    ok.then_some(()).ok_or(CredentialError::Username)
}

pub fn validate_password(password: &str) -> Result<(), CredentialError> {
    match password.chars().count() {
        n if n < MIN_PASSWORD_LEN => Err(CredentialError::TooShort),
        n if n > 1024 => Err(CredentialError::TooLong),
        _ => Ok(()),
    }
}

/// An argon2id PHC string for the password (CPU-heavy: call from a blocking task).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        // Hashing with default parameters and a fresh salt cannot fail; keep a non-matching value
        // rather than panicking if the library ever says otherwise.
        .unwrap_or_else(|_| String::from("$invalid$"))
}

/// Whether the password matches the stored PHC string (a malformed string never matches).
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random token of 32 bytes, hex-encoded (sessions, CSRF, setup links, bulk-restart plans).
pub fn random_token() -> String {
    use argon2::password_hash::rand_core::RngCore;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 of a token, as stored (tokens themselves never reach the database).
pub fn token_digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash("correct horse battery");
        let b = hash("correct horse battery");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &a));
        assert!(!verify("wrong horse battery", &a));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn rules() {
        assert!(validate_username("ops.admin-1_x").is_ok());
        assert_eq!(validate_username(""), Err(CredentialError::Username));
        assert_eq!(validate_username("a b"), Err(CredentialError::Username));
        assert_eq!(
            validate_username(&"a".repeat(65)),
            Err(CredentialError::Username)
        );
        assert_eq!(validate_password("short"), Err(CredentialError::TooShort));
        assert!(validate_password("twelve chars").is_ok());
        assert_eq!(
            validate_password(&"x".repeat(1025)),
            Err(CredentialError::TooLong)
        );
    }

    #[test]
    fn tokens() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token());
        assert_eq!(token_digest("abc").len(), 64);
        assert!(same_secret(&t, &t.clone()));
        assert!(!same_secret(&t, &random_token()));
        assert!(!same_secret("a", "ab"));
    }
}
