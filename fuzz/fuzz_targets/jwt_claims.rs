//! JWT verification of well-formed tokens whose header, key and claims are chosen by the
//! fuzzer: every algorithm (`none` and unknown names included), the right key, a wrong
//! one, the RSA public key as an HMAC secret (algorithm confusion), any `kid`, and
//! `sub`/`exp`/`nbf`/`iss`/`aud`/`role` from valid to absurd (`exp` = u64::MAX among
//! them). Each verifier's answer is compared with the rules restated here: it accepts
//! exactly the tokens it should, and returns what they say.

#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchboard_fuzz::jwt::{
    AUDIENCE, ISSUER, KIDS, Kind, LEEWAY, SECRET, now, testdata, verifiers,
};
use uuid::Uuid;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    HS256,
    HS384,
    RS256,
    RS512,
    PS256,
    ES256,
    ES384,
    EdDSA,
}

impl Alg {
    fn jwt(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::RS256 => Algorithm::RS256,
            Self::RS512 => Algorithm::RS512,
            Self::PS256 => Algorithm::PS256,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum HeaderAlg {
    /// The algorithm that fits the key (HS256 for a secret, RS256, ES256, EdDSA), so that
    /// well-signed tokens are common and the claims decide.
    Fitting,
    Real(Alg),
    /// `alg: none` (any spelling), no signature.
    Unsigned(String),
    /// An algorithm name nobody knows, with a made-up signature.
    Unknown(String),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Secret,
    WrongSecret,
    /// The RSA public key's PEM as an HMAC secret: algorithm confusion.
    RsaPublicAsSecret,
    Rsa,
    Rsa2,
    Ec,
    Ed,
}

#[derive(Arbitrary, Debug)]
enum Kid {
    /// The JWKS kid of the signing key (none for a secret).
    Fitting,
    Absent,
    Known(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Sub {
    Absent,
    User,
    Uppercase,
    Braced,
    Nil,
    Text(String),
    Number(u64),
}

#[derive(Arbitrary, Debug)]
enum Time {
    Absent,
    /// Seconds from now.
    Offset(i32),
    Zero,
    Max,
    Float(f64),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Absent,
    Expected,
    Other(String),
    List(Vec<String>),
    Number(i64),
}

#[derive(Arbitrary, Debug)]
struct Case {
    alg: HeaderAlg,
    key: Key,
    kid: Kid,
    sub: Sub,
    exp: Time,
    nbf: Time,
    iss: Text,
    aud: Text,
    role: Role,
    email: Option<String>,
}

#[derive(Arbitrary, Debug)]
enum Role {
    Absent,
    Applicant,
    Lawyer,
    Admin,
    Other(String),
}

impl Role {
    fn claim(&self) -> Option<&str> {
        match self {
            Self::Absent => None,
            Self::Applicant => Some("applicant"),
            Self::Lawyer => Some("lawyer"),
            Self::Admin => Some("admin"),
            Self::Other(s) => Some(s),
        }
    }
}

impl Key {
    fn fitting(self) -> (Alg, Option<&'static str>) {
        match self {
            Self::Secret | Self::WrongSecret | Self::RsaPublicAsSecret => (Alg::HS256, None),
            Self::Rsa => (Alg::RS256, Some("rsa-2026-11")),
            Self::Rsa2 => (Alg::RS256, Some("rsa-2026-12")),
            Self::Ec => (Alg::ES256, Some("ec-1")),
            Self::Ed => (Alg::EdDSA, Some("ed-1")),
        }
    }
}

/// Whether a rule holds, fails, or sits too close to "now" to tell without racing the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Yes,
    No,
    Unsure,
}

impl Verdict {
    fn of(b: bool) -> Self {
        if b { Self::Yes } else { Self::No }
    }

    fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::No, _) | (_, Self::No) => Self::No,
            (Self::Yes, Self::Yes) => Self::Yes,
            _ => Self::Unsure,
        }
    }
}

const MARGIN: i64 = 5;

fn time_value(t: &Time, now: u64) -> Option<Value> {
    match t {
        Time::Absent => None,
        Time::Offset(o) => Some(json!(now as i64 + i64::from(*o))),
        Time::Zero => Some(json!(0)),
        Time::Max => Some(json!(u64::MAX)),
        Time::Float(f) => Some(json!(f)),
        Time::Text(s) => Some(json!(s)),
    }
}

fn text_value(t: &Text, expected: &str) -> Option<Value> {
    match t {
        Text::Absent => None,
        Text::Expected => Some(json!(expected)),
        Text::Other(s) => Some(json!(s)),
        Text::List(l) => Some(json!(l)),
        Text::Number(n) => Some(json!(n)),
    }
}

fn encoding_key(key: Key) -> &'static EncodingKey {
    static KEYS: OnceLock<Vec<EncodingKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let pem = |n: &str| std::fs::read(testdata(n)).expect("test key");
        vec![
            EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
            EncodingKey::from_secret(b"another-secret-of-enough-length").unwrap(),
            EncodingKey::from_secret(&pem("rsa_public.pem")).unwrap(),
            EncodingKey::from_rsa_pem(&pem("rsa_private.pem")).unwrap(),
            EncodingKey::from_rsa_pem(&pem("rsa2_private.pem")).unwrap(),
            EncodingKey::from_ec_pem(&pem("ec_private.pem")).unwrap(),
            EncodingKey::from_ed_pem(&pem("ed_private.pem")).unwrap(),
        ]
    });
    &keys[key as usize]
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("serialises"))
}

fuzz_target!(|case: Case| {
    let now = now();
    let user = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
    let mut claims = serde_json::Map::new();
    match &case.sub {
        Sub::Absent => {}
        Sub::User => drop(claims.insert("sub".into(), json!(user.to_string()))),
        Sub::Uppercase => drop(claims.insert("sub".into(), json!(user.to_string().to_uppercase()))),
        Sub::Braced => drop(claims.insert("sub".into(), json!(format!("{{{user}}}")))),
        Sub::Nil => drop(claims.insert("sub".into(), json!(Uuid::nil().to_string()))),
        Sub::Text(s) => drop(claims.insert("sub".into(), json!(s))),
        Sub::Number(n) => drop(claims.insert("sub".into(), json!(n))),
    }
    for (name, t) in [("exp", &case.exp), ("nbf", &case.nbf)] {
        if let Some(v) = time_value(t, now) {
            claims.insert(name.into(), v);
        }
    }
    if let Some(v) = text_value(&case.iss, ISSUER) {
        claims.insert("iss".into(), v);
    }
    if let Some(v) = text_value(&case.aud, AUDIENCE) {
        claims.insert("aud".into(), v);
    }
    if let Some(r) = case.role.claim() {
        claims.insert("role".into(), json!(r));
    }
    if let Some(e) = &case.email {
        claims.insert("email".into(), json!(e));
    }
    let claims = Value::Object(claims);
    let kid = match &case.kid {
        Kid::Fitting => case.key.fitting().1.map(str::to_owned),
        Kid::Absent => None,
        Kid::Known(i) => Some(KIDS[usize::from(*i) % KIDS.len()].to_owned()),
        Kid::Other(s) => Some(s.clone()),
    };

    // The token, and whether it is signed by `key` with `alg` at all.
    let alg = match &case.alg {
        HeaderAlg::Fitting => HeaderAlg::Real(case.key.fitting().0),
        HeaderAlg::Real(a) => HeaderAlg::Real(*a),
        HeaderAlg::Unsigned(n) => HeaderAlg::Unsigned(n.clone()),
        HeaderAlg::Unknown(n) => HeaderAlg::Unknown(n.clone()),
    };
    let (token, signed_with) = match &alg {
        HeaderAlg::Fitting => unreachable!("resolved above"),
        HeaderAlg::Real(alg) => {
            let mut header = Header::new(alg.jwt());
            header.kid = kid.clone();
            match jsonwebtoken::encode(&header, &claims, encoding_key(case.key)) {
                Ok(t) => (t, Some(*alg)),
                // A key of another family: the same header with a signature of nothing.
                Err(_) => {
                    let h = serde_json::to_value(&header).expect("header");
                    (format!("{}.{}.c2ln", b64(&h), b64(&claims)), None)
                }
            }
        }
        HeaderAlg::Unsigned(name) => {
            let h = json!({ "alg": name, "kid": kid });
            (format!("{}.{}.", b64(&h), b64(&claims)), None)
        }
        HeaderAlg::Unknown(name) => {
            let h = json!({ "alg": name, "kid": kid });
            (format!("{}.{}.c2ln", b64(&h), b64(&claims)), None)
        }
    };

    // The claims' verdicts, shared by every verifier.
    let sub_ok = match &case.sub {
        Sub::User | Sub::Uppercase | Sub::Braced => Some(user),
        Sub::Text(s) => Uuid::parse_str(s).ok().filter(|u| !u.is_nil()),
        Sub::Absent | Sub::Nil | Sub::Number(_) => None,
    };
    let (exp_ok, exp_value) = match &case.exp {
        Time::Offset(o) => {
            let o = i64::from(*o);
            let at = now as i64 + o;
            let verdict = if o > -(LEEWAY as i64) + MARGIN {
                Verdict::Yes
            } else if o < -(LEEWAY as i64) - MARGIN {
                Verdict::No
            } else {
                Verdict::Unsure
            };
            (verdict, u64::try_from(at).ok())
        }
        Time::Max => (Verdict::Yes, Some(u64::MAX)),
        // A float is not a whole number of seconds; the claims must say one.
        Time::Float(_) => (Verdict::Unsure, None),
        Time::Absent | Time::Zero | Time::Text(_) => (Verdict::No, None),
    };
    let nbf_ok = match &case.nbf {
        Time::Absent | Time::Zero => Verdict::Yes,
        Time::Offset(o) => {
            let o = i64::from(*o);
            if o < LEEWAY as i64 - MARGIN {
                Verdict::Yes
            } else if o > LEEWAY as i64 + MARGIN {
                Verdict::No
            } else {
                Verdict::Unsure
            }
        }
        Time::Max | Time::Text(_) => Verdict::No,
        Time::Float(_) => Verdict::Unsure,
    };
    let role_ok = case
        .role
        .claim()
        .is_none_or(|r| matches!(r, "applicant" | "lawyer" | "admin"));
    let claims_ok = Verdict::of(sub_ok.is_some() && role_ok)
        .and(exp_ok)
        .and(nbf_ok);
    let iss_ok = match &case.iss {
        Text::Expected => Verdict::Yes,
        Text::Other(s) => Verdict::of(s == ISSUER),
        // An array is not a StringOrURI; the library's leniency here is no concern of ours.
        Text::List(_) => Verdict::Unsure,
        Text::Absent | Text::Number(_) => Verdict::No,
    };
    let aud_ok = match &case.aud {
        Text::Expected => Verdict::Yes,
        Text::Other(s) => Verdict::of(s == AUDIENCE),
        Text::List(l) => Verdict::of(l.iter().any(|a| a == AUDIENCE)),
        Text::Absent | Text::Number(_) => Verdict::No,
    };
    let iss_aud_ok = iss_ok.and(aud_ok);

    let jwks_key = |kid: Option<&str>| -> Option<(Alg, Key)> {
        match kid? {
            "rsa-2026-11" => Some((Alg::RS256, Key::Rsa)),
            "rsa-2026-12" => Some((Alg::RS256, Key::Rsa2)),
            "ec-1" => Some((Alg::ES256, Key::Ec)),
            "ed-1" => Some((Alg::EdDSA, Key::Ed)),
            _ => None,
        }
    };
    let signed = |alg: Alg, key: Key| signed_with == Some(alg) && case.key == key;
    for (kind, verifier) in verifiers() {
        let signature_ok = match kind {
            Kind::Hs | Kind::HsIssuerAudience => signed(Alg::HS256, Key::Secret),
            Kind::RsaPem => signed(Alg::RS256, Key::Rsa),
            Kind::Jwks => jwks_key(kid.as_deref()).is_some_and(|(a, k)| signed(a, k)),
            Kind::HsAndJwks => match jwks_key(kid.as_deref()) {
                Some((a, k)) => signed(a, k),
                None => signed(Alg::HS256, Key::Secret),
            },
        };
        let mut expected = Verdict::of(signature_ok).and(claims_ok);
        if *kind == Kind::HsIssuerAudience {
            expected = expected.and(iss_aud_ok);
        }
        let result = verifier.verify(&token);
        match (expected, &result) {
            (Verdict::Yes, Ok(v)) => {
                assert_eq!(Some(v.user_id), sub_ok, "{kind:?}");
                assert_eq!(Some(v.expires_at), exp_value, "{kind:?}");
            }
            (Verdict::Yes, Err(e)) => panic!("{kind:?} refused a good token ({e}): {case:?}"),
            (Verdict::No, Ok(_)) => panic!("{kind:?} accepted a bad token: {case:?}"),
            (Verdict::No, Err(_)) | (Verdict::Unsure, _) => {}
        }
    }
});
