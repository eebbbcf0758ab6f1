//! Building and sending e-mail: lettre's pooled async SMTP transport, and MIME messages with
//! a plain-text and an HTML body and, for invitations, the iMIP calendar part
//! (`text/calendar; method=…`) plus an `invite.ics` attachment, so Gmail and Outlook show
//! the invitation with its buttons.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Settings;
use crate::templates::Bodies;

/// An e-mail about to go out.
pub struct Outgoing {
    pub to: Mailbox,
    pub subject: String,
    pub bodies: Bodies,
    pub invitation: Option<Invitation>,
    /// The notification's dedupe key: the Message-ID is derived from it, so a mail that is
    /// sent twice after a crash is recognisably the same mail.
    pub key: String,
}

/// An RFC 5545 calendar object and its iTIP method (`REQUEST` or `CANCEL`).
pub struct Invitation {
    pub method: &'static str,
    pub ics: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused for good (5xx: unknown mailbox, policy): retrying cannot help.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Connection refused, timeout, 4xx: worth another try.
    #[error("{0}")]
    Transient(String),
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    id_domain: String,
    /// The longest one whole SMTP transaction may take.
    deadline: Duration,
}

impl Mailer {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp.url)
            .context("SMTP_URL")?
            .timeout(Some(settings.smtp.timeout))
            .pool_config(
                PoolConfig::new()
                    .min_idle(0)
                    .max_size(settings.smtp.pool_size.max(1))
                    .idle_timeout(Duration::from_secs(30)),
            )
            .build();
        Ok(Self {
            transport,
            from: settings.mail_from.clone(),
            reply_to: settings.mail_reply_to.clone(),
            id_domain: settings.mail_from.email.domain().to_owned(),
            // Connect, greeting, MAIL, RCPT, DATA, body: each bounded by the command timeout.
            deadline: settings.smtp.timeout * 3,
        })
    }

    /// The MIME message for `mail`.
    pub fn build(&self, mail: Outgoing) -> Result<Message, lettre::error::Error> {
        let message_id = format!(
            "<{}@{}>",
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, mail.key.as_bytes()).simple(),
            self.id_domain
        );
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(mail.to)
            .subject(mail.subject)
            .message_id(Some(message_id))
            .date_now();
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let Bodies { text, html } = mail.bodies;
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(text))
            .singlepart(SinglePart::html(html));
        let body = match mail.invitation {
            None => alternative,
            Some(invitation) => {
                let calendar = ContentType::parse(&format!(
                    "text/calendar; method={}; charset=UTF-8",
                    invitation.method
                ))
                .expect("valid content type");
                let attachment =
                    ContentType::parse(&format!("application/ics; method={}", invitation.method))
                        .expect("valid content type");
                MultiPart::mixed()
                    .multipart(
                        alternative.singlepart(
                            SinglePart::builder()
                                .header(calendar)
                                .body(invitation.ics.clone()),
                        ),
                    )
                    .singlepart(
                        Attachment::new("invite.ics".to_owned()).body(invitation.ics, attachment),
                    )
            }
        };
        builder.multipart(body)
    }

    /// Sends one message; `Ok` means the server accepted it (a 250 after the data).
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Err(_) => Err(SendError::Transient(format!(
                "SMTP transaction took longer than {:?}",
                self.deadline
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        Mailer::new(&Settings {
            mail_reply_to: Some("Support <help@example.org>".parse().unwrap()),
            ..Settings::default()
        })
        .unwrap()
    }

    fn outgoing(invitation: Option<Invitation>) -> Outgoing {
        Outgoing {
            to: "Ann <ann@example.org>".parse().unwrap(),
            subject: "Consultation booked".into(),
            bodies: Bodies {
                text: "plain".into(),
                html: "<p>html</p>".into(),
            },
            invitation,
            key: "consultation:1:scheduled:0/ann".into(),
        }
    }

    #[tokio::test]
    async fn an_invitation_is_alternative_plain_html_calendar_plus_an_attachment() {
        let ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n".to_owned();
        let raw = mailer()
            .build(outgoing(Some(Invitation {
                method: "REQUEST",
                ics,
            })))
            .unwrap()
            .formatted();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("Content-Type: multipart/mixed"), "{raw}");
        assert!(raw.contains("Content-Type: multipart/alternative"));
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(raw.contains("Content-Type: text/html; charset=utf-8"));
        assert!(raw.contains("Content-Type: text/calendar; method=REQUEST; charset=utf-8"));
        assert!(raw.contains("filename=\"invite.ics\""));
        assert!(raw.contains("Reply-To: Support <help@example.org>"));
        // The alternative part closes before the attachment starts.
        let alt = raw.find("multipart/alternative").unwrap();
        let attachment = raw.find("invite.ics").unwrap();
        assert!(alt < attachment);
    }

    #[tokio::test]
    async fn the_message_id_follows_the_key() {
        let m = mailer();
        let id = |raw: Vec<u8>| {
            String::from_utf8(raw)
                .unwrap()
                .lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(str::to_owned)
                .unwrap()
        };
        let a = id(m.build(outgoing(None)).unwrap().formatted());
        let b = id(m.build(outgoing(None)).unwrap().formatted());
        assert_eq!(a, b);
        assert!(a.ends_with("@switchboard.localhost>"), "{a}");
    }
}
