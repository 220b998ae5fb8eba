//! `[dpop]` and `[webauthn]`, validated: the settings of proofs of possession (DPoP keys,
//! passkeys), which both follow from the issuer's origin.
use super::problems::Problems;
use super::settings::duration;

/// `[dpop]`, validated (API.md §10).
#[derive(Clone, Debug)]
pub struct DpopSettings {
    pub required: bool,
    pub nonce: bool,
    pub algorithms: Vec<tessera_token::dpop::ProofAlgorithm>,
    pub max_age_secs: i64,
    /// The issuer's origin (`scheme://host[:port]`): what `htu` is compared against, with the
    /// request's path.
    pub origin: String,
}

impl super::Dpop {
    pub(super) fn validate(&self, issuer: &str, p: &mut Problems) -> DpopSettings {
        let mut algorithms = Vec::new();
        for a in &self.algorithms {
            match tessera_token::dpop::ProofAlgorithm::parse(a) {
                Some(alg) => algorithms.push(alg),
                None => p.check(
                    false,
                    "dpop.algorithms",
                    format!("{a:?} is not ES256, EdDSA or Ed25519"),
                ),
            }
        }
        p.check(
            !algorithms.is_empty(),
            "dpop.algorithms",
            "name at least one",
        );
        let max_age_ms = p.or(duration("dpop.proof_max_age", &self.proof_max_age), 60_000);
        p.check(
            (1_000..=600_000).contains(&max_age_ms),
            "dpop.proof_max_age",
            "must be between 1s and 10m",
        );
        let origin = url::Url::parse(issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        DpopSettings {
            required: self.required,
            nonce: self.nonce,
            algorithms,
            max_age_secs: max_age_ms / 1000,
            origin,
        }
    }
}

impl super::WebAuthn {
    /// The relying party, or (with no RP ID set and an issuer on an IP address) none, and the
    /// warning that says why passkeys are off. A set RP ID that cannot be one is an error.
    pub(super) fn validate(
        &self,
        issuer: &str,
        p: &mut Problems,
    ) -> (
        Option<tessera_core::engine::passkeys::PasskeyConfig>,
        Option<String>,
    ) {
        let issuer_url = url::Url::parse(issuer).ok();
        let issuer_host = issuer_url
            .as_ref()
            .and_then(|u| u.host_str())
            .unwrap_or_default()
            .to_owned();
        let rp_id = match self.rp_id.as_str() {
            "" => issuer_host.trim_matches(['[', ']']).to_owned(),
            set => set.to_owned(),
        };
        if rp_id.parse::<std::net::IpAddr>().is_ok() || rp_id.is_empty() {
            if !self.rp_id.is_empty() {
                p.check(
                    false,
                    "webauthn.rp_id",
                    "must be a host name, not an IP address",
                );
                return (None, None);
            }
            let why = format!(
                "passkeys are off: the issuer's host {issuer_host:?} is an IP address, which WebAuthn never accepts as an RP ID; set webauthn.rp_id (e.g. \"localhost\") and browse the server by that name"
            );
            return (None, Some(why));
        }
        let mut origins = Vec::new();
        let configured: Vec<String> = if self.origins.is_empty() {
            issuer_url
                .iter()
                .map(|u| u.origin().ascii_serialization())
                .collect()
        } else {
            self.origins.clone()
        };
        for o in &configured {
            match url::Url::parse(o) {
                Ok(u) if matches!(u.scheme(), "https" | "http") => origins.push(u),
                _ => p.check(false, "webauthn.origins", "each must be an http(s) origin"),
            }
        }
        let config = tessera_core::engine::passkeys::PasskeyConfig {
            rp_id,
            rp_name: self.rp_name.clone(),
            origins,
        };
        if let Err(e) = config.relying_party() {
            p.check(false, "webauthn", &e);
            return (None, None);
        }
        (Some(config), None)
    }
}
