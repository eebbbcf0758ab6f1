//! JWT verification against every key source and every attack the gateway must refuse.

use std::path::PathBuf;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};
use switchboard_common::auth::{AuthError, JwtSettings, JwtVerifier};
use uuid::Uuid;

const SECRET: &str = "a-test-secret-of-enough-length";

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn claims(user: Uuid) -> Value {
    json!({"sub": user.to_string(), "exp": now() + 600})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        claims,
    )
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap()
}

fn hs_verifier() -> JwtVerifier {
    JwtVerifier::from_settings(&JwtSettings {
        hs256_secret: Some(SecretString::from(SECRET)),
        leeway_secs: 0,
        ..JwtSettings::default()
    })
    .unwrap()
}

fn jwks_verifier() -> JwtVerifier {
    JwtVerifier::from_settings(&JwtSettings {
        jwks_file: Some(testdata("jwks.json")),
        ..JwtSettings::default()
    })
    .unwrap()
}

fn unsigned(header: Value, claims: &Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    )
}

#[test]
fn hs256_tokens_are_verified() {
    let user = Uuid::new_v4();
    let mut c = claims(user);
    c["email"] = json!("a@example.test");
    c["role"] = json!("lawyer");
    let verified = hs_verifier().verify(&hs256(&c)).unwrap();
    assert_eq!(verified.user_id, user);
    assert_eq!(verified.email.as_deref(), Some("a@example.test"));
    assert_eq!(verified.role.as_deref(), Some("lawyer"));
}

#[test]
fn bad_hs256_tokens_are_refused() {
    let v = hs_verifier();
    let user = Uuid::new_v4();
    let wrong_key = sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(b"another-secret-entirely").unwrap(),
        &claims(user),
    );
    assert!(matches!(v.verify(&wrong_key), Err(AuthError::BadSignature)));
    let expired = hs256(&json!({"sub": user.to_string(), "exp": now() - 10}));
    assert!(matches!(v.verify(&expired), Err(AuthError::Expired)));
    let no_exp = hs256(&json!({"sub": user.to_string()}));
    assert!(matches!(
        v.verify(&no_exp),
        Err(AuthError::MissingClaim("exp"))
    ));
    let no_sub = hs256(&json!({"exp": now() + 60}));
    assert!(matches!(
        v.verify(&no_sub),
        Err(AuthError::MissingClaim("sub"))
    ));
    let bad_sub = hs256(&json!({"sub": "alice", "exp": now() + 60}));
    assert!(matches!(v.verify(&bad_sub), Err(AuthError::BadSubject)));
    let not_yet = hs256(&json!({"sub": user.to_string(), "exp": now() + 600, "nbf": now() + 300}));
    assert!(matches!(v.verify(&not_yet), Err(AuthError::NotYetValid)));
    let bad_role = hs256(&json!({"sub": user.to_string(), "exp": now() + 60, "role": "root"}));
    assert!(matches!(v.verify(&bad_role), Err(AuthError::BadRole)));
    assert!(matches!(v.verify("garbage"), Err(AuthError::Malformed)));
    // A valid signature over other claims: the payload was swapped.
    let genuine = hs256(&claims(user));
    let other = hs256(&claims(Uuid::new_v4()));
    let parts: Vec<&str> = genuine.split('.').collect();
    let other_payload = other.split('.').nth(1).unwrap();
    let tampered = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    assert!(matches!(v.verify(&tampered), Err(AuthError::BadSignature)));
}

#[test]
fn alg_none_is_refused() {
    let token = unsigned(
        json!({"alg": "none", "typ": "JWT"}),
        &claims(Uuid::new_v4()),
    );
    assert!(matches!(
        hs_verifier().verify(&token),
        Err(AuthError::AlgorithmRejected | AuthError::Malformed)
    ));
    assert!(jwks_verifier().verify(&token).is_err());
    let token = unsigned(json!({"alg": "None"}), &claims(Uuid::new_v4()));
    assert!(hs_verifier().verify(&token).is_err());
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let v = JwtVerifier::from_settings(&JwtSettings {
        hs256_secret: Some(SecretString::from(SECRET)),
        issuer: Some("https://platform.example".into()),
        audience: Some("switchboard".into()),
        ..JwtSettings::default()
    })
    .unwrap();
    let user = Uuid::new_v4();
    let mut good = claims(user);
    good["iss"] = json!("https://platform.example");
    good["aud"] = json!("switchboard");
    assert!(v.verify(&hs256(&good)).is_ok());
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    assert!(matches!(
        v.verify(&hs256(&wrong_iss)),
        Err(AuthError::WrongIssuer)
    ));
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("someone-else");
    assert!(matches!(
        v.verify(&hs256(&wrong_aud)),
        Err(AuthError::WrongAudience)
    ));
    assert!(matches!(
        v.verify(&hs256(&claims(user))),
        Err(AuthError::MissingClaim(_))
    ));
}

#[test]
fn rs256_from_a_pem_key() {
    let v = JwtVerifier::from_settings(&JwtSettings {
        public_key: Some((testdata("rsa_public.pem"), Algorithm::RS256)),
        ..JwtSettings::default()
    })
    .unwrap();
    let user = Uuid::new_v4();
    let key = EncodingKey::from_rsa_pem(&pem("rsa_private.pem")).unwrap();
    assert_eq!(
        v.verify(&sign(Algorithm::RS256, None, &key, &claims(user)))
            .unwrap()
            .user_id,
        user
    );
    let other = EncodingKey::from_rsa_pem(&pem("rsa2_private.pem")).unwrap();
    assert!(matches!(
        v.verify(&sign(Algorithm::RS256, None, &other, &claims(user))),
        Err(AuthError::BadSignature)
    ));
}

#[test]
fn algorithm_confusion_is_refused() {
    // The classic attack: an HS256 token whose "secret" is the server's RSA public key.
    let v = JwtVerifier::from_settings(&JwtSettings {
        public_key: Some((testdata("rsa_public.pem"), Algorithm::RS256)),
        ..JwtSettings::default()
    })
    .unwrap();
    let forged = sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(&pem("rsa_public.pem")).unwrap(),
        &claims(Uuid::new_v4()),
    );
    assert!(matches!(
        v.verify(&forged),
        Err(AuthError::AlgorithmRejected)
    ));
    let forged_kid = sign(
        Algorithm::HS256,
        Some("rsa-2026-11"),
        &EncodingKey::from_secret(&pem("rsa_public.pem")).unwrap(),
        &claims(Uuid::new_v4()),
    );
    assert!(matches!(
        jwks_verifier().verify(&forged_kid),
        Err(AuthError::AlgorithmRejected)
    ));
    // An EC-signed token presented under an RSA key's kid.
    let ec = EncodingKey::from_ec_pem(&pem("ec_private.pem")).unwrap();
    let mislabelled = sign(
        Algorithm::ES256,
        Some("rsa-2026-11"),
        &ec,
        &claims(Uuid::new_v4()),
    );
    assert!(matches!(
        jwks_verifier().verify(&mislabelled),
        Err(AuthError::AlgorithmRejected)
    ));
}

#[test]
fn jwks_keys_are_chosen_by_kid_across_a_rotation() {
    let v = jwks_verifier();
    let user = Uuid::new_v4();
    let old = EncodingKey::from_rsa_pem(&pem("rsa_private.pem")).unwrap();
    let new = EncodingKey::from_rsa_pem(&pem("rsa2_private.pem")).unwrap();
    assert!(
        v.verify(&sign(
            Algorithm::RS256,
            Some("rsa-2026-11"),
            &old,
            &claims(user)
        ))
        .is_ok()
    );
    assert!(
        v.verify(&sign(
            Algorithm::RS256,
            Some("rsa-2026-12"),
            &new,
            &claims(user)
        ))
        .is_ok()
    );
    // Signed by one key, labelled as the other.
    assert!(matches!(
        v.verify(&sign(
            Algorithm::RS256,
            Some("rsa-2026-11"),
            &new,
            &claims(user)
        )),
        Err(AuthError::BadSignature)
    ));
    assert!(matches!(
        v.verify(&sign(
            Algorithm::RS256,
            Some("retired"),
            &old,
            &claims(user)
        )),
        Err(AuthError::UnknownKey)
    ));
    // Several keys and no kid: nothing to choose by.
    assert!(matches!(
        v.verify(&sign(Algorithm::RS256, None, &old, &claims(user))),
        Err(AuthError::UnknownKey)
    ));
}

#[test]
fn es256_and_eddsa_from_jwks_and_pem() {
    let user = Uuid::new_v4();
    let ec = EncodingKey::from_ec_pem(&pem("ec_private.pem")).unwrap();
    let ed = EncodingKey::from_ed_pem(&pem("ed_private.pem")).unwrap();
    let v = jwks_verifier();
    assert!(
        v.verify(&sign(Algorithm::ES256, Some("ec-1"), &ec, &claims(user)))
            .is_ok()
    );
    assert!(
        v.verify(&sign(Algorithm::EdDSA, Some("ed-1"), &ed, &claims(user)))
            .is_ok()
    );
    for (file, alg, key) in [
        ("ec_public.pem", Algorithm::ES256, &ec),
        ("ed_public.pem", Algorithm::EdDSA, &ed),
    ] {
        let v = JwtVerifier::from_settings(&JwtSettings {
            public_key: Some((testdata(file), alg)),
            ..JwtSettings::default()
        })
        .unwrap();
        assert_eq!(
            v.verify(&sign(alg, None, key, &claims(user)))
                .unwrap()
                .user_id,
            user
        );
    }
}

#[test]
fn configuration_errors_are_reported() {
    assert!(JwtVerifier::from_settings(&JwtSettings::default()).is_err());
    assert!(
        JwtVerifier::from_settings(&JwtSettings {
            hs256_secret: Some(SecretString::from("short")),
            ..JwtSettings::default()
        })
        .is_err()
    );
    assert!(
        JwtVerifier::from_settings(&JwtSettings {
            jwks_file: Some(testdata("missing.json")),
            ..JwtSettings::default()
        })
        .is_err()
    );
}
