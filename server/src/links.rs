//! Short-lived signed links and tickets (invites, password resets): HS256 JWTs under a key derived from
//! the master key, so every replica can check what another signed.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::secrets::MasterKey;

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
    pub fn new(master: &MasterKey) -> LinkSigner {
        let key = master.derive("signed-links");
        LinkSigner {
            encoding: EncodingKey::from_secret(key.as_slice()),
            decoding: DecodingKey::from_secret(key.as_slice()),
        }
    }

    pub fn sign(&self, purpose: Purpose, subject: &str, bind: &str, ttl_secs: u64) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.into(),
            purpose: purpose.as_str().into(),
            bind: bind.into(),
            iat: now,
            exp: now + ttl_secs,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing")
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
        let master = MasterKey::generate();
        let signer = LinkSigner::new(&master);
        let link = signer.sign(Purpose::Invite, "inv1", "", 60);
        assert_eq!(signer.verify(Purpose::Invite, &link).unwrap().sub, "inv1");
        assert!(signer.verify(Purpose::PasswordReset, &link).is_none());
        assert!(LinkSigner::new(&MasterKey::generate())
            .verify(Purpose::Invite, &link)
            .is_none());
        assert!(signer.verify(Purpose::Invite, "garbage").is_none());
    }
}
