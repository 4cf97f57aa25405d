//! Password hashing (argon2id, PHC strings) and the rules for usernames and passwords.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
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
    #[error("the two passwords differ: type the same password twice")]
    Mismatch,
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

/// Stored parameters above this much memory (in 1 KiB blocks, 256 MiB) are refused rather
/// than allocated: a tampered hash must not make a sign-in take gigabytes.
const MAX_BLOCKS: usize = 256 * 1024;

/// Whether the password matches the stored PHC string (a malformed string, or one asking for
/// more than [`MAX_BLOCKS`] of memory, never matches). CPU-heavy: call from a blocking thread.
pub fn verify(password: &str, phc: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        argon2::Algorithm::try_from(hash.algorithm),
        argon2::Params::try_from(&hash),
    ) else {
        return false;
    };
    let Ok(version) = hash.version.map(argon2::Version::try_from).transpose() else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if params.block_count() > MAX_BLOCKS {
        return false;
    }
    let mut memory = vec![argon2::Block::default(); params.block_count()];
    let mut out = [0u8; 64];
    let out = &mut out[..expected.len()];
    Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory)
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
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
        // A tampered hash asking for 4 GB is refused, not allocated.
        let greedy = a.replace("m=19456", "m=4000000");
        assert!(!verify("correct horse battery", &greedy));
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
