//! The verifiers the JWT targets try every token against, built from the test keys in
//! `crates/common/testdata` (they protect nothing).

use std::path::PathBuf;
use std::sync::OnceLock;

use secrecy::SecretString;
use switchboard_common::auth::{JwtSettings, JwtVerifier};

/// The HS256 secret of every HS verifier here.
pub const SECRET: &str = "a-test-secret-of-enough-length";
/// Clock skew the verifiers allow (the gateway's default).
pub const LEEWAY: u64 = 30;
pub const ISSUER: &str = "https://platform.example";
pub const AUDIENCE: &str = "switchboard";
/// The key ids of `jwks.json`.
pub const KIDS: [&str; 4] = ["rsa-2026-11", "rsa-2026-12", "ec-1", "ed-1"];

pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/common/testdata")
        .join(name)
}

/// Which keys a verifier holds, so a target can tell which tokens it must accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `JWT_SECRET` only.
    Hs,
    /// `JWT_SECRET` with `JWT_ISSUER` and `JWT_AUDIENCE`.
    HsIssuerAudience,
    /// `JWT_JWKS_FILE` (two RSA keys, P-256, Ed25519).
    Jwks,
    /// `JWT_PUBLIC_KEY_FILE`, RS256.
    RsaPem,
    /// `JWT_SECRET` and `JWT_JWKS_FILE` together.
    HsAndJwks,
}

pub fn verifiers() -> &'static [(Kind, JwtVerifier)] {
    static ALL: OnceLock<Vec<(Kind, JwtVerifier)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let hs = || JwtSettings {
            hs256_secret: Some(SecretString::from(SECRET)),
            leeway_secs: LEEWAY,
            ..JwtSettings::default()
        };
        let settings = [
            (Kind::Hs, hs()),
            (
                Kind::HsIssuerAudience,
                JwtSettings {
                    issuer: Some(ISSUER.into()),
                    audience: Some(AUDIENCE.into()),
                    ..hs()
                },
            ),
            (
                Kind::Jwks,
                JwtSettings {
                    jwks_file: Some(testdata("jwks.json")),
                    leeway_secs: LEEWAY,
                    ..JwtSettings::default()
                },
            ),
            (
                Kind::RsaPem,
                JwtSettings {
                    public_key: Some((testdata("rsa_public.pem"), jsonwebtoken::Algorithm::RS256)),
                    leeway_secs: LEEWAY,
                    ..JwtSettings::default()
                },
            ),
            (
                Kind::HsAndJwks,
                JwtSettings {
                    jwks_file: Some(testdata("jwks.json")),
                    ..hs()
                },
            ),
        ];
        settings
            .into_iter()
            .map(|(kind, s)| {
                (
                    kind,
                    JwtVerifier::from_settings(&s).expect("test keys load"),
                )
            })
            .collect()
    })
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}
