//! Route guards: a layer that lets a request through only with a valid token that has a role,
//! a permission, or a recent enough authentication.
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::authenticate;
use crate::error::AuthError;
use crate::identity::Auth;

#[derive(Clone, Debug)]
enum Need {
    Token,
    Role(Arc<str>),
    Permission(Arc<str>),
    Recent(Duration),
    Acr(Arc<str>),
}

/// A guard for a route or a group of routes, applied with `route_layer` (so unmatched paths
/// still answer 404). Needs [`Tessera::layer`](crate::Tessera::layer) further out.
///
/// ```no_run
/// use std::time::Duration;
/// use axum::{Router, routing::{get, post}};
/// use tessera_axum::Require;
///
/// let app: Router = Router::new()
///     .route("/reports", get(|| async { "reports" }).route_layer(Require::permission("reports:read")))
///     .route("/billing", post(|| async { "ok" }).route_layer(Require::recent_authentication(Duration::from_secs(300))));
/// ```
#[derive(Clone, Debug)]
pub struct Require(Need);

impl Require {
    /// Any valid, unrevoked token.
    pub fn token() -> Self {
        Require(Need::Token)
    }

    /// The role `role`; otherwise 403 `insufficient_scope`.
    pub fn role(role: &str) -> Self {
        Require(Need::Role(role.into()))
    }

    /// The permission `perm`; otherwise 403 `insufficient_scope`.
    pub fn permission(perm: &str) -> Self {
        Require(Need::Permission(perm.into()))
    }

    /// An authentication (`auth_time`) within `max_age`; otherwise 401
    /// `insufficient_user_authentication` with `max_age` in `WWW-Authenticate` (RFC 9470).
    pub fn recent_authentication(max_age: Duration) -> Self {
        Require(Need::Recent(max_age))
    }

    /// A session of assurance `level` or higher (`aal2`: two factors, or a passkey with user
    /// verification); otherwise 401 `insufficient_user_authentication` with `acr_values` in
    /// `WWW-Authenticate` (RFC 9470).
    pub fn acr(level: &str) -> Self {
        Require(Need::Acr(level.into()))
    }

    fn check(&self, auth: &Auth) -> Result<(), AuthError> {
        match &self.0 {
            Need::Token => Ok(()),
            Need::Role(r) => auth.require_role(r),
            Need::Permission(p) => auth.require_permission(p),
            Need::Recent(max_age) => auth.require_recent_authentication(*max_age),
            Need::Acr(level) => auth.require_acr(level),
        }
    }
}

impl<S> Layer<S> for Require {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            need: self.clone(),
        }
    }
}

/// The service [`Require`] wraps a route in.
#[derive(Clone, Debug)]
pub struct RequireService<S> {
    inner: S,
    need: Require,
}

impl<S> Service<Request> for RequireService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was made ready is the one that serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let need = self.need.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let checked = authenticate(&mut parts)
                .await
                .and_then(|auth| need.check(&auth));
            match checked {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await,
                Err(e) => Ok(e.into_response()),
            }
        })
    }
}
