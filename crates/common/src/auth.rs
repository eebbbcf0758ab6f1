//! JWT verification for every entry point that accepts a user's token.
//!
//! Keys come from three places, any combination: an HS256 secret (the dev default), a
//! PEM public key with its algorithm, and a JWKS file whose keys are chosen by `kid`. Each
//! key accepts only the algorithms of its own family, so `alg: none` and algorithm
//! confusion (an HS256 token "signed" with an RSA public key) are refused before any
//! signature check. `exp` and `sub` (a UUID) are required; `iss`, `aud` and `nbf` are
//! checked when configured.

use std::collections::HashSet;
use std::path::PathBuf;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::config::{self, ConfigError};

/// Where the verification keys come from.
#[derive(Clone, Debug, Default)]
pub struct JwtSettings {
    /// HS256 shared secret (`JWT_SECRET`).
    pub hs256_secret: Option<SecretString>,
    /// A PEM public key (`JWT_PUBLIC_KEY_FILE`) and its algorithm (`JWT_PUBLIC_KEY_ALG`).
    pub public_key: Option<(PathBuf, Algorithm)>,
    /// A JWKS file (`JWT_JWKS_FILE`).
    pub jwks_file: Option<PathBuf>,
    /// Required `iss` when set (`JWT_ISSUER`).
    pub issuer: Option<String>,
    /// Required `aud` when set (`JWT_AUDIENCE`).
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds (`JWT_LEEWAY_SECS`).
    pub leeway_secs: u64,
}

impl JwtSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let public_key = match config::var("JWT_PUBLIC_KEY_FILE") {
            None => None,
            Some(path) => {
                let alg_name = config::var("JWT_PUBLIC_KEY_ALG").unwrap_or_else(|| "RS256".into());
                let alg: Algorithm = alg_name.parse().map_err(|_| {
                    ConfigError::new(
                        "JWT_PUBLIC_KEY_ALG",
                        format!("unknown algorithm {alg_name:?}"),
                    )
                })?;
                Some((PathBuf::from(path), alg))
            }
        };
        Ok(Self {
            hs256_secret: config::var("JWT_SECRET").map(SecretString::from),
            public_key,
            jwks_file: config::var("JWT_JWKS_FILE").map(PathBuf::from),
            issuer: config::var("JWT_ISSUER"),
            audience: config::var("JWT_AUDIENCE"),
            leeway_secs: config::parse_or("JWT_LEEWAY_SECS", 30)?,
        })
    }
}

/// The claims Switchboard reads from a token.
#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    // Optional here so that a missing one is reported as missing, not as malformed.
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub exp: Option<u64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

/// A verified token: who it is and until when it is good.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    pub user_id: Uuid,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
}

/// Why a token was refused. The message is safe to show the client: it never contains
/// the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not accepted")]
    AlgorithmRejected,
    #[error("token key id is unknown")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is not accepted")]
    WrongIssuer,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token lacks a required claim ({0})")]
    MissingClaim(&'static str),
    #[error("token subject is not a user id (UUID)")]
    BadSubject,
    #[error("token role claim must be applicant, lawyer or admin")]
    BadRole,
}

struct Key {
    kid: Option<String>,
    decoding: DecodingKey,
    /// The algorithms this key's family may verify; nothing else is tried with it.
    algorithms: Vec<Algorithm>,
}

/// Verifies tokens against the configured keys.
pub struct JwtVerifier {
    keys: Vec<Key>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_secs: u64,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

const RSA_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

impl JwtVerifier {
    /// Loads every configured key; fails when none is configured or one cannot be read.
    pub fn from_settings(settings: &JwtSettings) -> Result<Self, ConfigError> {
        let mut keys = Vec::new();
        if let Some(secret) = &settings.hs256_secret {
            let secret = secret.expose_secret();
            if secret.len() < 16 {
                return Err(ConfigError::new("JWT_SECRET", "must be at least 16 bytes"));
            }
            let decoding = DecodingKey::from_secret(secret.as_bytes())
                .map_err(|e| ConfigError::new("JWT_SECRET", e.to_string()))?;
            keys.push(Key {
                kid: None,
                decoding,
                algorithms: vec![Algorithm::HS256],
            });
        }
        if let Some((path, alg)) = &settings.public_key {
            let pem = std::fs::read(path).map_err(|e| {
                ConfigError::new("JWT_PUBLIC_KEY_FILE", format!("{}: {e}", path.display()))
            })?;
            let bad = |e: jsonwebtoken::errors::Error| {
                ConfigError::new("JWT_PUBLIC_KEY_FILE", format!("{}: {e}", path.display()))
            };
            let decoding = match alg {
                a if RSA_ALGORITHMS.contains(a) => DecodingKey::from_rsa_pem(&pem).map_err(bad)?,
                Algorithm::ES256 | Algorithm::ES384 => {
                    DecodingKey::from_ec_pem(&pem).map_err(bad)?
                }
                Algorithm::EdDSA => DecodingKey::from_ed_pem(&pem).map_err(bad)?,
                other => {
                    return Err(ConfigError::new(
                        "JWT_PUBLIC_KEY_ALG",
                        format!("{other:?} is not a public-key algorithm"),
                    ));
                }
            };
            keys.push(Key {
                kid: None,
                decoding,
                algorithms: vec![*alg],
            });
        }
        if let Some(path) = &settings.jwks_file {
            let raw = std::fs::read(path).map_err(|e| {
                ConfigError::new("JWT_JWKS_FILE", format!("{}: {e}", path.display()))
            })?;
            let set: JwkSet = serde_json::from_slice(&raw).map_err(|e| {
                ConfigError::new("JWT_JWKS_FILE", format!("{}: {e}", path.display()))
            })?;
            for jwk in &set.keys {
                keys.push(key_from_jwk(jwk).map_err(|reason| {
                    ConfigError::new("JWT_JWKS_FILE", format!("{}: {reason}", path.display()))
                })?);
            }
        }
        if keys.is_empty() {
            return Err(ConfigError::new(
                "JWT_SECRET",
                "no JWT key configured: set JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWT_JWKS_FILE",
            ));
        }
        Ok(Self {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway_secs: settings.leeway_secs,
        })
    }

    /// Verifies a token and returns who it names.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        // `decode_header` refuses `alg: none`: it is not an `Algorithm`.
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => AuthError::AlgorithmRejected,
            _ => AuthError::Malformed,
        })?;
        let candidates: Vec<&Key> = match &header.kid {
            Some(kid) => {
                let by_kid: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                    .collect();
                if by_kid.is_empty() {
                    // A kid that matches nothing may still be meant for a key without one.
                    self.keys.iter().filter(|k| k.kid.is_none()).collect()
                } else {
                    by_kid
                }
            }
            None => {
                let unnamed: Vec<&Key> = self.keys.iter().filter(|k| k.kid.is_none()).collect();
                let named: Vec<&Key> = self.keys.iter().filter(|k| k.kid.is_some()).collect();
                // One JWKS key may be used without a kid; several need one to choose.
                if named.len() == 1 {
                    unnamed.into_iter().chain(named).collect()
                } else {
                    unnamed
                }
            }
        };
        if candidates.is_empty() {
            return Err(AuthError::UnknownKey);
        }
        let usable: Vec<&Key> = candidates
            .into_iter()
            .filter(|k| k.algorithms.contains(&header.alg))
            .collect();
        if usable.is_empty() {
            return Err(AuthError::AlgorithmRejected);
        }
        let mut last = AuthError::BadSignature;
        for key in usable {
            match self.verify_with(token, header.alg, key) {
                Ok(verified) => return Ok(verified),
                Err(AuthError::BadSignature) => last = AuthError::BadSignature,
                Err(other) => return Err(other),
            }
        }
        Err(last)
    }

    fn verify_with(
        &self,
        token: &str,
        alg: Algorithm,
        key: &Key,
    ) -> Result<VerifiedToken, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required: HashSet<String> = ["exp", "sub"].iter().map(|s| s.to_string()).collect();
        match &self.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.insert("iss".into());
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        validation.required_spec_claims = required;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(match c.as_str() {
                    "exp" => "exp",
                    "sub" => "sub",
                    "iss" => "iss",
                    "aud" => "aud",
                    _ => "claim",
                }),
                ErrorKind::InvalidAlgorithm => AuthError::AlgorithmRejected,
                _ => AuthError::Malformed,
            },
        )?;
        let claims = data.claims;
        let sub = claims.sub.ok_or(AuthError::MissingClaim("sub"))?;
        let expires_at = claims.exp.ok_or(AuthError::MissingClaim("exp"))?;
        let user_id = Uuid::parse_str(&sub).map_err(|_| AuthError::BadSubject)?;
        if user_id.is_nil() {
            return Err(AuthError::BadSubject);
        }
        if let Some(role) = &claims.role
            && !matches!(role.as_str(), "applicant" | "lawyer" | "admin")
        {
            return Err(AuthError::BadRole);
        }
        Ok(VerifiedToken {
            user_id,
            expires_at,
            email: claims.email,
            name: claims.name,
            role: claims.role,
        })
    }
}

fn key_from_jwk(jwk: &Jwk) -> Result<Key, String> {
    let decoding = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))?;
    let family: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => RSA_ALGORITHMS.to_vec(),
        AlgorithmParameters::EllipticCurve(ec) => match &ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            other => return Err(format!("unsupported curve {other:?}")),
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys do not belong in a JWKS file; use JWT_SECRET".into());
        }
        _ => return Err("unsupported key type".into()),
    };
    // A key that names its algorithm accepts only that one.
    let algorithms = match jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse::<Algorithm>().ok())
    {
        Some(alg) if family.contains(&alg) => vec![alg],
        Some(alg) => return Err(format!("key algorithm {alg:?} does not fit its key type")),
        None => family,
    };
    Ok(Key {
        kid: jwk.common.key_id.clone(),
        decoding,
        algorithms,
    })
}

/// Mints an HS256 token; for the CLI's dev tokens and for tests.
pub fn mint_hs256(
    secret: &str,
    user_id: Uuid,
    ttl_secs: u64,
    extra: serde_json::Value,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp() as u64;
    let mut claims = serde_json::json!({
        "sub": user_id.to_string(),
        "iat": now,
        "exp": now + ttl_secs,
    });
    if let (Some(obj), serde_json::Value::Object(more)) = (claims.as_object_mut(), extra) {
        obj.extend(more);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())?,
    )
}
