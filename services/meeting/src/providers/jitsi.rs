//! Jitsi Meet: no API call makes a room — it exists when someone joins
//! `https://<domain>/[<tenant>/]<room>` — so creating one is choosing an unguessable name
//! (128 random bits) and, for instances that require it, putting a token in the link:
//!
//! - self-hosted Prosody token auth: HS256 with the shared `app_secret`; claims `iss` (app
//!   id), `aud`, `sub` (tenant or domain), `room`, `nbf`, `exp`, `context.user`;
//! - 8x8 JaaS: RS256 with header `kid` = `vpaas-magic-cookie-…/<key id>`; claims
//!   `iss: "chat"`, `aud: "jitsi"`, `sub` = the app id, `room`, `nbf`, `exp`,
//!   `context.user` (`moderator` as the strings `"true"`/`"false"`) and `context.features`.
//!
//! The join link carries a participant token; the host link a moderator one.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore as _;
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::config::{JitsiJwt, JitsiSettings};
use crate::providers::{Created, MeetingSpec, ProviderError, Rescheduled};

/// RFC 4648 base32, lower-case: room names are lower-cased by Jitsi anyway.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

pub struct Jitsi {
    settings: JitsiSettings,
    signer: Option<(Header, EncodingKey)>,
}

impl Jitsi {
    pub fn new(settings: JitsiSettings) -> Result<Self, String> {
        let signer = match &settings.jwt {
            JitsiJwt::None => None,
            JitsiJwt::SelfHosted { secret, .. } => Some((
                Header::new(Algorithm::HS256),
                EncodingKey::from_secret(secret.expose_secret().as_bytes())
                    .map_err(|e| format!("JITSI_APP_SECRET: {e}"))?,
            )),
            JitsiJwt::Jaas {
                key_id,
                private_key,
                ..
            } => {
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(key_id.clone());
                let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes())
                    .map_err(|e| format!("JITSI_JAAS_PRIVATE_KEY_FILE: {e}"))?;
                Some((header, key))
            }
        };
        Ok(Self { settings, signer })
    }

    /// `<prefix><26 base32 characters>`: 128 bits from the OS's generator.
    pub fn room_name(&self) -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let mut out = self.settings.room_prefix.clone();
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for b in bytes {
            buffer = (buffer << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    pub fn create(&self, spec: &MeetingSpec<'_>) -> Result<Created, ProviderError> {
        let room = self.room_name();
        let (join_url, host_url) = self.links(&room, spec)?;
        Ok(Created {
            join_url,
            host_url,
            data: json!({ "room": room }),
            external_id: room,
            ics_uid: None,
        })
    }

    /// The room stays; tokens are re-issued for the new time.
    pub fn reschedule(&self, room: &str, spec: &MeetingSpec<'_>) -> Rescheduled {
        match self.links(room, spec) {
            Ok((join, host)) if self.signer.is_some() => Rescheduled {
                join_url: Some(join),
                host_url: host,
            },
            _ => Rescheduled::default(),
        }
    }

    fn room_url(&self, room: &str) -> String {
        match &self.settings.jwt {
            JitsiJwt::Jaas { app_id, .. } => {
                let base = &self.settings.base_url;
                // JaaS links always live on 8x8.vc unless another JaaS host is configured.
                let origin = if base.host_str() == Some("meet.jit.si") {
                    "https://8x8.vc".to_owned()
                } else {
                    base.origin().ascii_serialization()
                };
                format!("{origin}/{app_id}/{room}")
            }
            _ => format!(
                "{}/{room}",
                self.settings.base_url.as_str().trim_end_matches('/')
            ),
        }
    }

    fn links(
        &self,
        room: &str,
        spec: &MeetingSpec<'_>,
    ) -> Result<(String, Option<String>), ProviderError> {
        let url = self.room_url(room);
        if self.signer.is_none() {
            return Ok((url, None));
        }
        let guest = serde_json::json!({
            "id": format!("{}-guest", spec.meeting_id),
            "moderator": "false",
        });
        let mut host = serde_json::json!({
            "id": format!("{}-host", spec.meeting_id),
            "email": spec.organizer.email,
            "moderator": "true",
            "affiliation": "owner",
        });
        if let Some(name) = &spec.organizer.name {
            host["name"] = json!(name);
        }
        let join = format!("{url}?jwt={}", self.token(room, spec, guest)?);
        let host = format!("{url}?jwt={}", self.token(room, spec, host)?);
        Ok((join, Some(host)))
    }

    /// A token for `room`, valid from now until the meeting's end plus the grace period.
    pub fn token(
        &self,
        room: &str,
        spec: &MeetingSpec<'_>,
        user: serde_json::Value,
    ) -> Result<String, ProviderError> {
        let Some((header, key)) = &self.signer else {
            return Err(ProviderError::NotEnabled("Jitsi tokens are off".into()));
        };
        let now = Utc::now().timestamp();
        let exp = (spec.end()
            + chrono::Duration::from_std(self.settings.token_grace).unwrap_or_default())
        .timestamp()
        .max(now + 300);
        let claims = match &self.settings.jwt {
            JitsiJwt::None => {
                return Err(ProviderError::NotEnabled("Jitsi tokens are off".into()));
            }
            JitsiJwt::SelfHosted {
                app_id,
                audience,
                subject,
                ..
            } => json!({
                "iss": app_id,
                "aud": audience,
                "sub": subject,
                "room": room,
                "iat": now,
                "nbf": now - 60,
                "exp": exp,
                "context": { "user": user },
            }),
            JitsiJwt::Jaas { app_id, .. } => json!({
                    "iss": "chat",
                    "aud": "jitsi",
                    "sub": app_id,
                    "room": room,
                    "iat": now,
                    "nbf": now - 60,
                    "exp": exp,
                    "context": {
                        "user": user,
                        "features": {
                            "livestreaming": "false",
                            "recording": "false",
                            "transcription": "false",
                        "outbound-call": "false",
                    },
                },
            }),
        };
        jsonwebtoken::encode(header, &claims, key)
            .map_err(|e| ProviderError::Rejected(format!("signing the Jitsi token: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Person;
    use jsonwebtoken::{DecodingKey, Validation};
    use secrecy::SecretString;
    use std::collections::HashSet;

    const PRIVATE: &str =
        include_str!("../../../../crates/test-support/testdata/provider_rsa_private.pem");
    const PUBLIC: &str =
        include_str!("../../../../crates/test-support/testdata/provider_rsa_public.pem");

    fn spec(organizer: &Person) -> MeetingSpec<'_> {
        MeetingSpec {
            meeting_id: uuid::Uuid::now_v7(),
            title: "Consultation",
            description: None,
            start: Utc::now() + chrono::Duration::hours(2),
            duration_minutes: 45,
            time_zone: None,
            organizer,
            attendees: &[],
        }
    }

    fn organizer() -> Person {
        Person::parse("switchboard@example.com", Some("Switchboard")).unwrap()
    }

    #[test]
    fn room_names_are_safe_and_unguessable() {
        let j = Jitsi::new(JitsiSettings::default()).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..500 {
            let name = j.room_name();
            let body = name.strip_prefix("switchboard-").unwrap();
            assert_eq!(body.len(), 26, "128 bits in base32");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
            assert!(seen.insert(name));
        }
    }

    #[test]
    fn plain_links_on_the_configured_instance() {
        let org = organizer();
        let j = Jitsi::new(JitsiSettings {
            base_url: url::Url::parse("https://jitsi.example.com/team/").unwrap(),
            ..JitsiSettings::default()
        })
        .unwrap();
        let created = j.create(&spec(&org)).unwrap();
        assert_eq!(
            created.join_url,
            format!("https://jitsi.example.com/team/{}", created.external_id)
        );
        assert_eq!(created.host_url, None);
        let validator = crate::links::LinkValidator::new(["jitsi.example.com".to_owned()]);
        assert!(validator.validate(&created.join_url).is_ok());
    }

    #[test]
    fn self_hosted_tokens_carry_the_documented_claims() {
        let org = organizer();
        let j = Jitsi::new(JitsiSettings {
            base_url: url::Url::parse("https://meet.example.com").unwrap(),
            jwt: JitsiJwt::SelfHosted {
                app_id: "switchboard".into(),
                secret: SecretString::from("prosody-app-secret".to_owned()),
                audience: "jitsi".into(),
                subject: "meet.example.com".into(),
            },
            ..JitsiSettings::default()
        })
        .unwrap();
        let s = spec(&org);
        let created = j.create(&s).unwrap();
        let (url, token) = created.join_url.split_once("?jwt=").unwrap();
        assert_eq!(
            url,
            format!("https://meet.example.com/{}", created.external_id)
        );
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&["jitsi"]);
        v.set_issuer(&["switchboard"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &DecodingKey::from_secret(b"prosody-app-secret").unwrap(),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], "meet.example.com");
        assert_eq!(claims["room"], created.external_id.as_str());
        assert_eq!(claims["context"]["user"]["moderator"], "false");
        assert!(claims["exp"].as_i64().unwrap() > s.end().timestamp());
        assert!(claims["nbf"].as_i64().unwrap() <= Utc::now().timestamp());
        // The host link makes its holder the moderator.
        let host = created.host_url.unwrap();
        let host_token = host.split_once("?jwt=").unwrap().1;
        let host_claims = jsonwebtoken::decode::<serde_json::Value>(
            host_token,
            &DecodingKey::from_secret(b"prosody-app-secret").unwrap(),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(host_claims["context"]["user"]["moderator"], "true");
        assert_eq!(
            host_claims["context"]["user"]["email"],
            "switchboard@example.com"
        );
        // A wrong secret does not verify.
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                token,
                &DecodingKey::from_secret(b"other").unwrap(),
                &v
            )
            .is_err()
        );
    }

    #[test]
    fn jaas_tokens_are_rs256_with_the_key_id() {
        let org = organizer();
        let app_id = "vpaas-magic-cookie-0123456789abcdef";
        let j = Jitsi::new(JitsiSettings {
            jwt: JitsiJwt::Jaas {
                app_id: app_id.into(),
                key_id: format!("{app_id}/4f4910"),
                private_key: SecretString::from(PRIVATE.to_owned()),
            },
            ..JitsiSettings::default()
        })
        .unwrap();
        let created = j.create(&spec(&org)).unwrap();
        let (url, token) = created.join_url.split_once("?jwt=").unwrap();
        assert_eq!(
            url,
            format!("https://8x8.vc/{app_id}/{}", created.external_id)
        );
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(&*format!("{app_id}/4f4910")));
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&["jitsi"]);
        v.set_issuer(&["chat"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap(),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], app_id);
        assert_eq!(claims["room"], created.external_id.as_str());
        assert_eq!(claims["context"]["user"]["moderator"], "false");
        assert_eq!(claims["context"]["features"]["recording"], "false");
        assert!(claims["nbf"].is_i64());
        let validator = crate::links::LinkValidator::new(Vec::<String>::new());
        assert!(validator.validate(&created.join_url).is_ok());
    }

    #[test]
    fn rescheduling_reissues_tokens_for_the_same_room() {
        let org = organizer();
        let j = Jitsi::new(JitsiSettings {
            jwt: JitsiJwt::SelfHosted {
                app_id: "switchboard".into(),
                secret: SecretString::from("prosody-app-secret".to_owned()),
                audience: "jitsi".into(),
                subject: "meet.jit.si".into(),
            },
            ..JitsiSettings::default()
        })
        .unwrap();
        let mut s = spec(&org);
        let created = j.create(&s).unwrap();
        s.start += chrono::Duration::days(3);
        let moved = j.reschedule(&created.external_id, &s);
        let join = moved.join_url.unwrap();
        assert!(join.contains(&created.external_id));
        assert_ne!(join, created.join_url);
        // Without tokens the link does not change.
        let plain = Jitsi::new(JitsiSettings::default()).unwrap();
        assert!(plain.reschedule("room", &s).join_url.is_none());
    }
}
