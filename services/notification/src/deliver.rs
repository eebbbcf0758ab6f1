//! What one queued event asks for. Consultation events become two e-mails (lawyer and
//! applicant), each claimed by its own dedupe key so a redelivery sends only what has not
//! gone out yet; an unread message becomes a pending digest for its recipient.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use prost::Message as _;
use serde::Serialize;
use switchboard_proto::notification::v1::notification_event::Kind;
use switchboard_proto::notification::v1::{
    ConsultationParticipant, MessageUnread, NotificationEvent,
};
use uuid::Uuid;

use crate::config::RetryPolicy;
use crate::mail::{Invitation, Mailer, Outgoing, SendError};
use crate::metrics::NotificationMetrics;
use crate::store::{Claim, NewNotification, Store};
use crate::templates::Templates;

pub enum Outcome {
    /// Everything is sent, dead-lettered or noted: acknowledge.
    Done,
    /// Not a notification event: terminate it (redelivery cannot fix it).
    Malformed,
    /// Something is left to do: redeliver after the delay.
    RetryIn(Duration),
}

pub struct Deliverer {
    pub store: Store,
    pub mailer: Mailer,
    pub templates: Templates,
    pub metrics: Arc<NotificationMetrics>,
    pub retry: RetryPolicy,
    pub quiet_period: Duration,
    pub app_url: String,
    /// How long one worker holds an e-mail before another may try it.
    pub lease: Duration,
}

impl Deliverer {
    pub async fn handle(&self, payload: &[u8]) -> Outcome {
        let event = match NotificationEvent::decode(payload) {
            Ok(e) if !e.dedupe_key.is_empty() && e.kind.is_some() => e,
            Ok(_) | Err(_) => {
                self.metrics.malformed.inc();
                tracing::warn!(
                    bytes = payload.len(),
                    "dropping a malformed notification event"
                );
                return Outcome::Malformed;
            }
        };
        match event.kind.as_ref().expect("checked above") {
            Kind::MessageUnread(unread) => self.note_unread(&event, unread, payload).await,
            Kind::ConsultationScheduled(c) => {
                let mails = [(&c.lawyer, &c.applicant), (&c.applicant, &c.lawyer)];
                self.send_all(
                    &event,
                    payload,
                    "consultation_scheduled",
                    &mails,
                    |to, other, key| {
                        self.consultation_mail(
                            key,
                            "consultation_scheduled",
                            &c.consultation_id,
                            to,
                            other,
                            c.scheduled_at.as_ref(),
                            c.duration_minutes,
                            Links {
                                meeting: &c.meeting_link,
                                google: &c.google_calendar_url,
                                outlook: &c.outlook_calendar_url,
                            },
                            None,
                            (!c.ics.is_empty()).then(|| Invitation {
                                method: "REQUEST",
                                ics: c.ics.clone(),
                            }),
                        )
                    },
                )
                .await
            }
            Kind::ConsultationCancelled(c) => {
                let mails = [(&c.lawyer, &c.applicant), (&c.applicant, &c.lawyer)];
                self.send_all(
                    &event,
                    payload,
                    "consultation_cancelled",
                    &mails,
                    |to, other, key| {
                        self.consultation_mail(
                            key,
                            "consultation_cancelled",
                            &c.consultation_id,
                            to,
                            other,
                            c.scheduled_at.as_ref(),
                            0,
                            Links {
                                meeting: "",
                                google: "",
                                outlook: "",
                            },
                            c.reason.as_deref(),
                            (!c.ics.is_empty()).then(|| Invitation {
                                method: "CANCEL",
                                ics: c.ics.clone(),
                            }),
                        )
                    },
                )
                .await
            }
        }
    }

    async fn note_unread(
        &self,
        event: &NotificationEvent,
        unread: &MessageUnread,
        payload: &[u8],
    ) -> Outcome {
        let (Ok(recipient), Ok(message_id)) = (
            Uuid::parse_str(&unread.recipient_id),
            Uuid::parse_str(&unread.message_id),
        ) else {
            self.metrics.malformed.inc();
            return Outcome::Malformed;
        };
        let occurred = event
            .occurred_at
            .as_ref()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .unwrap_or_else(Utc::now);
        let due = occurred
            + chrono::Duration::from_std(self.quiet_period).unwrap_or(chrono::Duration::zero());
        match self
            .store
            .note_unread(recipient, message_id, due, self.quiet_period, payload)
            .await
        {
            Ok(()) => Outcome::Done,
            Err(e) => {
                tracing::warn!(error = %e, "cannot note an unread message; retrying");
                Outcome::RetryIn(self.retry.delay(1))
            }
        }
    }

    /// Sends each (recipient, other party) mail that has not gone out yet.
    async fn send_all<'a, F>(
        &self,
        event: &NotificationEvent,
        payload: &[u8],
        kind: &str,
        mails: &[(
            &'a Option<ConsultationParticipant>,
            &'a Option<ConsultationParticipant>,
        )],
        render: F,
    ) -> Outcome
    where
        F: Fn(&ConsultationParticipant, &ConsultationParticipant, &str) -> anyhow::Result<Outgoing>,
    {
        let mut retry_in: Option<Duration> = None;
        let mut later = |d: Duration| retry_in = Some(retry_in.map_or(d, |r| r.min(d)));
        for (to, other) in mails {
            let (Some(to), Some(other)) = (to.as_ref(), other.as_ref()) else {
                self.metrics.malformed.inc();
                tracing::warn!(key = %event.dedupe_key, "consultation event without both participants");
                return Outcome::Malformed;
            };
            let dedupe_key = format!("{}/{}", event.dedupe_key, to.user_id);
            let claim = self
                .store
                .claim(
                    &NewNotification {
                        dedupe_key: &dedupe_key,
                        event_key: &event.dedupe_key,
                        kind,
                        recipient_id: Uuid::parse_str(&to.user_id).ok(),
                        recipient_email: &to.email,
                        payload,
                    },
                    self.lease,
                )
                .await;
            let (id, attempts) = match claim {
                Ok(Claim::Acquired { id, attempts }) => (id, attempts),
                Ok(Claim::Done) => {
                    self.metrics.duplicates.inc();
                    continue;
                }
                Ok(Claim::Busy) => {
                    later(self.lease.min(Duration::from_secs(5)));
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a notification; retrying");
                    later(self.retry.delay(1));
                    continue;
                }
            };
            let mail = match render(to, other, &dedupe_key) {
                Ok(mail) => mail,
                Err(e) => {
                    // Nothing a retry changes: an address that does not parse, say.
                    self.dead(id, kind, &format!("{e:#}")).await;
                    continue;
                }
            };
            let result = self.send(mail, &dedupe_key).await;
            match result {
                Ok(()) => {
                    self.metrics.sent.with_label_values(&[kind]).inc();
                    if let Err(e) = self.store.mark_sent(id).await {
                        // Accepted by SMTP but not recorded: the lease runs out and a retry
                        // would send it again; the stable Message-ID lets mail systems tell.
                        tracing::error!(error = %e, key = %dedupe_key, "sent but not recorded");
                        later(self.lease);
                    }
                }
                Err(e) => {
                    self.metrics.failed.with_label_values(&[kind]).inc();
                    let permanent = matches!(e, SendError::Permanent(_));
                    match self
                        .store
                        .record_failure(id, &e.to_string(), permanent, self.retry.max_attempts)
                        .await
                    {
                        Ok(f) if f.dead => {
                            self.metrics.dead_lettered.with_label_values(&[kind]).inc();
                            tracing::warn!(key = %dedupe_key, attempts = f.attempts, error = %e, "notification dead-lettered");
                        }
                        Ok(f) => {
                            tracing::info!(key = %dedupe_key, attempts = f.attempts, error = %e, "notification failed; will retry");
                            later(self.retry.delay(f.attempts as u32));
                        }
                        Err(db) => {
                            tracing::warn!(error = %db, "cannot record a failed notification");
                            later(self.retry.delay(attempts as u32 + 1));
                        }
                    }
                }
            }
        }
        match retry_in {
            None => Outcome::Done,
            Some(d) => Outcome::RetryIn(d),
        }
    }

    async fn dead(&self, id: Uuid, kind: &str, error: &str) {
        self.metrics.dead_lettered.with_label_values(&[kind]).inc();
        tracing::warn!(%id, error, "notification dead-lettered");
        if let Err(e) = self.store.mark_dead(id, error).await {
            tracing::warn!(error = %e, "cannot dead-letter a notification");
        }
    }

    async fn send(&self, mail: Outgoing, key: &str) -> Result<(), SendError> {
        let message = self.mailer.build(mail).map_err(|e| {
            SendError::Permanent(format!("cannot build the message for {key}: {e}"))
        })?;
        let started = std::time::Instant::now();
        let result = self.mailer.send(message).await;
        self.metrics
            .smtp_seconds
            .observe(started.elapsed().as_secs_f64());
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn consultation_mail(
        &self,
        key: &str,
        template: &str,
        consultation_id: &str,
        to: &ConsultationParticipant,
        other: &ConsultationParticipant,
        scheduled_at: Option<&prost_types::Timestamp>,
        duration_minutes: u32,
        links: Links<'_>,
        reason: Option<&str>,
        invitation: Option<Invitation>,
    ) -> anyhow::Result<Outgoing> {
        let address = mailbox(to)?;
        let when = scheduled_at
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .map(format_when)
            .unwrap_or_else(|| "a time to be confirmed".to_owned());
        let other_name = display_name(other);
        let values = ConsultationValues {
            recipient_name: display_name(to),
            other_name: other_name.clone(),
            when: when.clone(),
            duration_minutes,
            meeting_link: web_link(links.meeting),
            google_calendar_url: web_link(links.google),
            outlook_calendar_url: web_link(links.outlook),
            consultation_url: format!(
                "{}/consultations/{}",
                self.app_url,
                percent_safe(consultation_id)
            ),
            app_url: self.app_url.clone(),
            reason: reason.map(str::to_owned),
        };
        let bodies = self.templates.render(template, &values)?;
        let subject = if template == "consultation_cancelled" {
            format!("Cancelled: consultation with {other_name} on {when}")
        } else {
            format!("Consultation with {other_name} on {when}")
        };
        Ok(Outgoing {
            to: address,
            subject,
            bodies,
            invitation,
            key: key.to_owned(),
        })
    }
}

struct Links<'a> {
    meeting: &'a str,
    google: &'a str,
    outlook: &'a str,
}

#[derive(Serialize)]
struct ConsultationValues {
    recipient_name: String,
    other_name: String,
    when: String,
    duration_minutes: u32,
    meeting_link: String,
    google_calendar_url: String,
    outlook_calendar_url: String,
    consultation_url: String,
    app_url: String,
    reason: Option<String>,
}

fn mailbox(p: &ConsultationParticipant) -> anyhow::Result<Mailbox> {
    let email: lettre::Address = p
        .email
        .parse()
        .map_err(|e| anyhow::anyhow!("recipient address {:?}: {e}", p.email))?;
    Ok(Mailbox::new(p.display_name.clone(), email))
}

pub(crate) fn display_name(p: &ConsultationParticipant) -> String {
    p.display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| p.email.clone())
}

/// "Tuesday 8 December 2026, 14:00 UTC".
pub(crate) fn format_when(t: DateTime<Utc>) -> String {
    t.format("%A %-d %B %Y, %H:%M UTC").to_string()
}

/// Only http(s) links reach an e-mail; anything else becomes empty.
pub(crate) fn web_link(url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        url.to_owned()
    } else {
        String::new()
    }
}

/// Ids in links are UUIDs; anything else is dropped to keep the link well-formed.
pub(crate) fn percent_safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_reads_like_a_date() {
        let t = DateTime::parse_from_rfc3339("2026-12-08T14:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_when(t), "Tuesday 8 December 2026, 14:00 UTC");
    }

    #[test]
    fn only_web_links_are_kept() {
        assert_eq!(web_link("https://meet.jit.si/x"), "https://meet.jit.si/x");
        assert_eq!(web_link("javascript:alert(1)"), "");
        assert_eq!(percent_safe("abc-1\"><x"), "abc-1x");
    }
}
