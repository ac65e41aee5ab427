//! Short-lived signed links and tickets (invites, password resets): HS256 JWTs under a key derived with
//! HKDF from a random root key of the instance. The root is stored wrapped by the master key
//! (`Keyring::instance_key`), so every replica derives the same signing key, before and after a master-key
//! rotation, whichever master key it runs on: a link signed by one replica is good on all of them.

use hkdf::Hkdf;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secrets::keys::KeyError;
use crate::secrets::Keyring;

/// The instance key the signing keys are derived from.
const ROOT_PURPOSE: &str = "signed-links";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::PasswordReset => "password-reset",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// What the link is about (an invite id, a user id).
    pub sub: String,
    /// Which kind of link: a reset link is not an invite link.
    pub purpose: String,
    /// Ties the link to a state that changes when it is used (e.g. a fingerprint of the password hash),
    /// so that a link works once.
    #[serde(default)]
    pub bind: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct LinkSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl LinkSigner {
    /// The signer of this instance (its root key is created on first use).
    pub async fn load(keyring: &Keyring) -> Result<LinkSigner, KeyError> {
        Ok(LinkSigner::from_root(
            &keyring.instance_key(ROOT_PURPOSE).await?,
        ))
    }

    fn from_root(root: &[u8]) -> LinkSigner {
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(b"wheelhouse"), root)
            .expand(b"wheelhouse:links:hs256:v1", key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 length");
        LinkSigner {
            encoding: EncodingKey::from_secret(key.as_slice()),
            decoding: DecodingKey::from_secret(key.as_slice()),
        }
    }

    pub fn sign(&self, purpose: Purpose, subject: &str, bind: &str, ttl_secs: u64) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        self.sign_claims(&Claims {
            sub: subject.into(),
            purpose: purpose.as_str().into(),
            bind: bind.into(),
            iat: now,
            exp: now + ttl_secs,
        })
    }

    /// Signs claims as they are (tests use it for links that expired).
    pub fn sign_claims(&self, claims: &Claims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).expect("HS256 signing")
    }

    /// The claims of a valid, unexpired link of this purpose; `None` otherwise.
    pub fn verify(&self, purpose: Purpose, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        (claims.purpose == purpose.as_str()).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_only_for_their_purpose_and_key() {
        let signer = LinkSigner::from_root(&[1u8; 32]);
        let link = signer.sign(Purpose::Invite, "inv1", "", 60);
        assert_eq!(signer.verify(Purpose::Invite, &link).unwrap().sub, "inv1");
        assert!(signer.verify(Purpose::PasswordReset, &link).is_none());
        assert!(LinkSigner::from_root(&[2u8; 32])
            .verify(Purpose::Invite, &link)
            .is_none());
        assert!(signer.verify(Purpose::Invite, "garbage").is_none());
    }
}
