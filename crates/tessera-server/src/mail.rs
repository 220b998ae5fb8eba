//! The outbox worker: claims due mail (a lease, so another node never sends the same one),
//! sends it over SMTP with lettre, and reports the outcome; failures are retried with backoff.
//! Woken at once by mail queued on this node, and every second for the rest.
use std::sync::Arc;
use std::time::Duration;

use lettre::Address;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tessera_core::engine::outbox::Outgoing;
use tokio::task::JoinHandle;

use crate::config::email::smtp_display;
use crate::state::AppState;

/// How often the worker looks for mail queued elsewhere or due again.
const POLL: Duration = Duration::from_secs(1);
/// Mails claimed at once: one, so a slow SMTP server (30 s a try) can never outlast the lease.
const BATCH: i64 = 1;

/// Starts the worker if an SMTP server is configured.
pub fn spawn(state: Arc<AppState>) -> Option<JoinHandle<()>> {
    let smtp = state.settings.smtp.clone()?;
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp.url.expose()) {
        Ok(b) => b.timeout(Some(Duration::from_secs(30))).build(),
        Err(e) => {
            tracing::error!(server = %smtp_display(smtp.url.expose()), error = %e, "mail disabled: the SMTP URL is not usable");
            return None;
        }
    };
    tracing::info!(server = %smtp_display(smtp.url.expose()), "sending mail");
    Some(tokio::spawn(async move {
        loop {
            match state.engine.claim_mail(BATCH).await {
                Ok(batch) if !batch.is_empty() => {
                    for mail in batch {
                        deliver(&state, &transport, &smtp.from, mail).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox not readable; will retry"),
            }
            tokio::select! {
                _ = state.engine.mail_waiting() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }))
}

async fn deliver(
    state: &AppState,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    mail: Outgoing,
) {
    let engine = &state.engine;
    let Some(message) = mail.message else {
        let _ = engine
            .mail_failed(
                mail.id,
                mail.attempts,
                true,
                "sealed with another master key",
            )
            .await;
        return;
    };
    let built = recipient(&message.to).and_then(|to| {
        lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(message.subject)
            .multipart(MultiPart::alternative_plain_html(
                message.text,
                message.html,
            ))
            .ok()
    });
    let Some(email) = built else {
        let _ = engine
            .mail_failed(mail.id, mail.attempts, true, "not a deliverable message")
            .await;
        return;
    };
    let outcome = match transport.send(email).await {
        Ok(_) => engine.mail_sent(mail.id).await,
        Err(e) => {
            // The error names the server's reply or the connection, never the message or the
            // credentials.
            tracing::warn!(kind = %mail.kind, attempt = mail.attempts, error = %e, "mail not sent");
            engine
                .mail_failed(mail.id, mail.attempts, e.is_permanent(), &e.to_string())
                .await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "outbox not updated; the lease will run out and it is tried again");
    }
}

/// The one mailbox a stored address names, never parsed as a header: `a<b@x.test>` is no
/// mailbox here, rather than a display name and another address. The engine accepts only
/// addresses this takes as they are (the test below).
fn recipient(to: &str) -> Option<Mailbox> {
    let (user, domain) = to.rsplit_once('@')?;
    Address::new(user, domain)
        .ok()
        .map(|a| Mailbox::new(None, a))
}

#[cfg(test)]
mod tests {
    use super::recipient;
    use tessera_core::engine::validate::normalize_email;

    #[test]
    fn every_address_the_engine_accepts_is_one_mailbox_as_written() {
        let samples = [
            "ada@example.com",
            "o'neil+tag@example.com",
            "a.b-c_d@sub.example.co.uk",
            "x!#$%&*/=?^`{|}~@example.com",
            "a,b@example.com",
            "a<b@example.com",
            "a<b@example.com>",
            "a(b)@example.com",
            "\"q\"@example.com",
            "bcc:x@example.com",
            "a;b@example.com",
            "a..b@example.com",
        ];
        for s in samples {
            let engine = normalize_email(s).ok();
            let mailer = recipient(s).map(|m| m.email.to_string());
            if let Some(e) = &engine {
                assert_eq!(
                    mailer.as_deref(),
                    Some(e.as_str()),
                    "{s}: the mailer differs"
                );
            }
            if let Some(m) = &mailer {
                assert_eq!(m, s, "{s}: the mailer would write to another address");
            }
        }
        assert!(recipient("a<b@example.com>").is_none());
    }
}
