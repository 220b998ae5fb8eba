//! `[email]`, validated: the engine's mail settings, and the SMTP server for the worker. The
//! SMTP URL may hold a password: it is kept [`Redacted`] and never logged.
use tessera_core::mail::{MailConfig, Templates};
use tessera_core::secrets::Redacted;

use super::Email;
use super::problems::{Problems, err};
use super::settings::duration;

/// Where and as whom mail is sent.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// For lettre: `smtp://` gets `tls=opportunistic` (STARTTLS when offered) unless it says.
    pub url: Redacted<String>,
    pub from: lettre::message::Mailbox,
}

/// The part of `smtp_url` that may be shown (scheme, host, port), for logs and errors.
pub fn smtp_display(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map_or_else(|| "default".into(), |p| p.to_string())
        ),
        Err(_) => "(unparsable)".into(),
    }
}

impl Email {
    /// The engine's mail settings and the SMTP server, with every problem noted in `p`.
    pub(super) fn validate(
        &self,
        issuer: &str,
        p: &mut Problems,
    ) -> (MailConfig, Option<SmtpSettings>) {
        let mut ttl = |key: &str, raw: &str| {
            let ms = p.or(duration(key, raw), 3_600_000);
            p.check(
                (1_000..=30 * 86_400_000).contains(&ms),
                key,
                "must be between 1s and 30d",
            );
            ms
        };
        let reset_ttl_ms = ttl("email.reset_ttl", &self.reset_ttl);
        let verify_ttl_ms = ttl("email.verify_ttl", &self.verify_ttl);
        let link_base = match self.link_base.as_str() {
            "" => format!("{}/", issuer.trim_end_matches('/')),
            set if set.starts_with("https://") || set.starts_with("http://") => {
                p.check(
                    !set.contains('#'),
                    "email.link_base",
                    "must not have a fragment (the token goes there)",
                );
                set.to_owned()
            }
            set => {
                p.note(err("email.link_base", "expected an http(s) URL"));
                set.to_owned()
            }
        };
        let templates = match self.templates_dir.as_str() {
            "" => Templates::built_in(&self.product_name),
            dir => p.or(
                Templates::load(&self.product_name, std::path::Path::new(dir))
                    .map_err(|e| err("email.templates_dir", e)),
                Templates::built_in(&self.product_name),
            ),
        };
        let smtp = match self.smtp_url.as_str() {
            "" => None,
            raw => self.smtp(raw, p),
        };
        let mail = MailConfig {
            enabled: smtp.is_some(),
            link_base,
            reset_ttl_ms,
            verify_ttl_ms,
            require_verified: self.require_verified_email,
            notify_new_device: self.notify_new_device,
            templates,
        };
        (mail, smtp)
    }

    fn smtp(&self, raw: &str, p: &mut Problems) -> Option<SmtpSettings> {
        let Ok(mut url) = url::Url::parse(raw) else {
            p.note(err(
                "email.smtp_url",
                "not a URL (smtp://host:port or smtps://user:pass@host:465)",
            ));
            return None;
        };
        if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none_or(str::is_empty) {
            p.note(err(
                "email.smtp_url",
                "expected smtp://host:port or smtps://host:port",
            ));
            return None;
        }
        if url.scheme() == "smtp" && !url.query_pairs().any(|(k, _)| k == "tls") {
            url.query_pairs_mut().append_pair("tls", "opportunistic");
        }
        let Ok(from) = self.from.parse() else {
            p.note(err(
                "email.from",
                "required with smtp_url: an address, e.g. \"Example <no-reply@example.com>\"",
            ));
            return None;
        };
        Some(SmtpSettings {
            url: Redacted(url.to_string()),
            from,
        })
    }
}
