//! Account mail (API.md §7): what is sent, how it is written (templates), and how it rests in
//! the outbox (sealed with the master key, since a reset mail carries a token).
mod templates;

pub use templates::{TemplateError, Templates, VARIABLES};

use serde::{Deserialize, Serialize};

/// The kinds of mail, also the template names.
pub mod kind {
    pub const RESET: &str = crate::model::email_kind::RESET;
    pub const VERIFY: &str = crate::model::email_kind::VERIFY;
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const NEW_DEVICE: &str = "new_device";
    pub const ALL: [&str; 4] = [RESET, VERIFY, PASSWORD_CHANGED, NEW_DEVICE];
}

/// One mail, ready to send. `Debug` leaves the bodies out: they may carry a token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// `[email]` as the engine needs it.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// An SMTP server is configured: the routes that send mail work (else 501).
    pub enabled: bool,
    /// The page that receives links; the token goes in its fragment.
    pub link_base: String,
    pub reset_ttl_ms: i64,
    pub verify_ttl_ms: i64,
    /// `require_verified_email`: login refused until the email is verified.
    pub require_verified: bool,
    /// `notify_new_device`: a login from a device unseen for 90 days is mailed about.
    pub notify_new_device: bool,
    pub templates: Templates,
}

impl MailConfig {
    /// Mail off: no SMTP server; tokens can still come from the admin routes.
    pub fn disabled(link_base: impl Into<String>) -> Self {
        MailConfig {
            enabled: false,
            link_base: link_base.into(),
            reset_ttl_ms: 3_600_000,
            verify_ttl_ms: 86_400_000,
            require_verified: false,
            notify_new_device: false,
            templates: Templates::built_in("Tessera"),
        }
    }
}
