use std::fmt;
use std::str::FromStr;

/// The signature algorithms Tessera signs and verifies with. Exactly one is configured at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037), under the polymorphic name `EdDSA`. The default.
    EdDSA,
    /// The same signatures under RFC 9864's fully specified name, for JOSE libraries that
    /// deprecate or refuse `EdDSA`.
    Ed25519,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
    /// HMAC-SHA-256 with a shared secret from the config; never published in the JWKS.
    HS256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
            Algorithm::HS256 => "HS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    /// Exact, case-sensitive names only: `alg` values are case-sensitive in JOSE.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(Algorithm::EdDSA),
            "Ed25519" => Ok(Algorithm::Ed25519),
            "ES256" => Ok(Algorithm::ES256),
            "RS256" => Ok(Algorithm::RS256),
            "HS256" => Ok(Algorithm::HS256),
            other => Err(format!(
                "unsupported algorithm {other:?}: expected EdDSA, Ed25519, ES256, RS256 or HS256"
            )),
        }
    }
}
