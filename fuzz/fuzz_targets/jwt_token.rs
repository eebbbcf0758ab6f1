//! JWT verification of any text a client sends as a token (Bearer header, `?token=`,
//! the auth frame, CONNECT, `refresh_token`), against every kind of key source. Never a
//! panic; a refusal is one of a fixed set of texts (so it never repeats the token); an
//! accepted token really says what the verifier returns: its payload, decoded here
//! independently, has that `sub` and `exp`, it is not expired, and its header names an
//! algorithm the verifier's keys may use.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard_fuzz::jwt::{AUDIENCE, ISSUER, KIDS, Kind, LEEWAY, now, verifiers};
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    for (kind, verifier) in verifiers() {
        match verifier.verify(token) {
            Err(e) => {
                // The refusal is one of a fixed set of texts, so it never repeats the token.
                let message = e.to_string();
                assert!(
                    REFUSALS.contains(&message.as_str()),
                    "{kind:?}: unexpected refusal {message:?}"
                );
            }
            Ok(verified) => {
                let segment = |i: usize| -> Value {
                    let part = token.split('.').nth(i).expect("three segments");
                    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
                    serde_json::from_slice(&bytes).expect("a JSON segment")
                };
                let (header, claims) = (segment(0), segment(1));
                let sub = claims["sub"].as_str().expect("sub is a string");
                assert_eq!(Uuid::parse_str(sub).ok(), Some(verified.user_id));
                assert!(!verified.user_id.is_nil());
                assert_eq!(claims["exp"].as_u64(), Some(verified.expires_at));
                assert!(
                    verified.expires_at.saturating_add(LEEWAY) >= now(),
                    "{kind:?}: expired"
                );
                if let Some(nbf) = claims.get("nbf") {
                    assert!(nbf.as_u64().expect("nbf is a number") <= now() + LEEWAY);
                }
                if let Some(role) = &verified.role {
                    assert!(matches!(role.as_str(), "applicant" | "lawyer" | "admin"));
                }
                let alg = header["alg"].as_str().expect("alg");
                let kid = header["kid"].as_str();
                let allowed = match kind {
                    Kind::Hs | Kind::HsIssuerAudience => alg == "HS256",
                    Kind::RsaPem => alg == "RS256",
                    Kind::Jwks => jwks_allows(kid, alg),
                    Kind::HsAndJwks => match kid {
                        Some(k) if KIDS.contains(&k) => jwks_allows(kid, alg),
                        _ => alg == "HS256",
                    },
                };
                assert!(allowed, "{kind:?} accepted alg {alg} with kid {kid:?}");
                if *kind == Kind::HsIssuerAudience {
                    assert_eq!(claims["iss"], ISSUER);
                    let aud = &claims["aud"];
                    assert!(
                        aud == AUDIENCE
                            || aud
                                .as_array()
                                .is_some_and(|a| a.iter().any(|x| x == AUDIENCE)),
                        "aud {aud}"
                    );
                }
            }
        }
    }
});

/// Every text `AuthError` can show a client.
const REFUSALS: &[&str] = &[
    "token is malformed",
    "token algorithm is not accepted",
    "token key id is unknown",
    "token signature is invalid",
    "token has expired",
    "token is not valid yet",
    "token issuer is not accepted",
    "token audience is not accepted",
    "token lacks a required claim (exp)",
    "token lacks a required claim (sub)",
    "token lacks a required claim (iss)",
    "token lacks a required claim (aud)",
    "token lacks a required claim (claim)",
    "token subject is not a user id (UUID)",
    "token role claim must be applicant, lawyer or admin",
];

/// Each JWKS key verifies only its own algorithm, chosen by its kid.
fn jwks_allows(kid: Option<&str>, alg: &str) -> bool {
    matches!(
        (kid, alg),
        (Some("rsa-2026-11" | "rsa-2026-12"), "RS256")
            | (Some("ec-1"), "ES256")
            | (Some("ed-1"), "EdDSA")
    )
}
