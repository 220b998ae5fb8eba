//! Configuration of a [`Tessera`] verifier.
use std::fmt;
use std::time::Duration;

use tessera_token::Algorithm;

/// What to do with a token once the revocation feed has been unreachable for longer than
/// [`Builder::stale_after`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStale {
    /// Refuse every token with 503 `unavailable` (and `Retry-After`) until the feed is back.
    /// The default: a revocation made meanwhile can never be missed silently.
    Refuse,
    /// Go on accepting tokens that pass every other check. Revocations made while the feed is
    /// unreachable are not applied until it is back; the outage is logged at `error` and
    /// counted in [`Status::stale_accepted`](crate::Status::stale_accepted).
    Accept,
}

/// Builds a [`Tessera`]: where Tessera is, the resource-server key, and the rules.
///
/// ```no_run
/// # async fn run() -> Result<(), tessera_axum::BuildError> {
/// use std::time::Duration;
/// let tessera = tessera_axum::Tessera::builder("https://auth.example.com", "the-resource-server-key")
///     .audience("orders-api")
///     .stale_after(Duration::from_secs(60))
///     .start()?;
/// tessera.ready().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Builder {
    pub(crate) base_url: String,
    pub(crate) key: String,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Vec<String>,
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) leeway: Duration,
    pub(crate) stale_after: Duration,
    pub(crate) on_stale: OnStale,
    pub(crate) jwks_refresh: Duration,
    pub(crate) kid_refetch_interval: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) stream_idle_timeout: Duration,
    pub(crate) http: Option<reqwest::Client>,
    pub(crate) public_url: Option<String>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("base_url", &self.base_url)
            .field("key", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithm", &self.algorithm)
            .field("stale_after", &self.stale_after)
            .field("on_stale", &self.on_stale)
            .finish_non_exhaustive()
    }
}

/// The configuration cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub(crate) String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

impl Builder {
    pub(crate) fn new(base_url: &str, key: &str) -> Self {
        Builder {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            issuer: None,
            audience: Vec::new(),
            algorithm: None,
            leeway: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
            on_stale: OnStale::Refuse,
            jwks_refresh: Duration::from_secs(300),
            kid_refetch_interval: Duration::from_secs(1),
            poll_interval: Duration::from_secs(5),
            stream_idle_timeout: Duration::from_secs(35),
            http: None,
            public_url: None,
        }
    }

    /// This API's public origin (`https://api.example.com`): what DPoP proofs name in `htu`,
    /// with the request's path (API.md §10). Without it, DPoP-bound tokens are refused.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The `iss` tokens must carry. Default: the base URL (Tessera's own default issuer is
    /// `http://` + the address it listens on; set this when Tessera's `issuer` is configured).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// An audience this API accepts (may be called several times). With none, tokens must carry
    /// no `aud`, exactly as Tessera checks (its `audience` config).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    /// Pins the signature algorithm. Default: the one algorithm the first JWKS names (EdDSA
    /// unless Tessera is configured otherwise); it is pinned from then on, so a JWKS that later
    /// names another algorithm changes nothing. HS256 cannot be used: its key is never published.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// Clock-skew tolerance for `exp`, `iat` and `nbf`; default and maximum 5 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long the revocation feed may be unreachable before [`OnStale`] applies. Default
    /// 60 s. An open stream counts as reachable (Tessera sends a heartbeat every 15 s; a stream
    /// silent for [`Builder::stream_idle_timeout`] is dropped), so the bound is measured from
    /// the last moment Tessera was heard.
    pub fn stale_after(mut self, bound: Duration) -> Self {
        self.stale_after = bound;
        self
    }

    /// What to do once the feed is stale. Default [`OnStale::Refuse`].
    pub fn on_stale(mut self, policy: OnStale) -> Self {
        self.on_stale = policy;
        self
    }

    /// How often the JWKS is fetched again in the background. Default 300 s (Tessera serves it
    /// with `max-age=300`); a token with an unknown `kid` fetches it at once anyway.
    pub fn jwks_refresh(mut self, every: Duration) -> Self {
        self.jwks_refresh = every;
        self
    }

    /// At most one JWKS fetch for an unknown `kid` per this interval (default 1 s), so tokens
    /// with made-up `kid`s cannot turn into a flood of fetches.
    pub fn kid_refetch_interval(mut self, every: Duration) -> Self {
        self.kid_refetch_interval = every;
        self
    }

    /// While the stream is down, the feed is polled with a backoff that grows to this. Default
    /// 5 s.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// A stream silent for this long (no entry, no heartbeat) is taken for dead and reopened.
    /// Default 35 s: Tessera sends a heartbeat every 15 s.
    pub fn stream_idle_timeout(mut self, after: Duration) -> Self {
        self.stream_idle_timeout = after;
        self
    }

    /// The HTTP client to reach Tessera with. Default: a plain one. Pass your own for TLS
    /// (enable a TLS feature of `reqwest` in your app, for example `rustls`), proxies or
    /// custom roots. It must not set a total request timeout: the stream is a long request.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }
}
