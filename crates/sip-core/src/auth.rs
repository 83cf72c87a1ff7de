//! Client digest authentication (RFC 3261 §22.2-§22.3, RFC 7616, RFC 8760).
//!
//! [`Authenticator`] answers a 401/407 by rebuilding the challenged request
//! with one Authorization / Proxy-Authorization per challenged realm. It
//! keeps per-realm nonce state (for nonce-count reuse on later requests)
//! but never the secrets: the caller passes [`Credential`]s on every call.
//!
//! ```text
//!   401/407 for a request without our credentials for realm R
//!        -> answer (strongest algorithm: SHA-512-256 > SHA-256 > MD5)
//!   401/407 again for R:
//!        stale=true, new nonce, first time -> answer again (nc restarts)
//!        otherwise                         -> Rejected (wrong credentials)
//!   later requests: apply_cached() reuses R's nonce with nc+1
//! ```

use std::collections::BTreeMap;

use sip_message::digest::{self, Algorithm, ClientSecret, DigestError};
use sip_message::headers::{Challenge, Credentials, HeaderError, HeaderName};
use sip_message::{Request, Response};

use crate::rand::Rng;

/// Most realms whose nonce state is remembered.
pub const MAX_REALMS: usize = 32;

/// Why a challenge could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Only 401 and 407 carry challenges.
    #[error("status {0} is not an authentication challenge")]
    NotAChallenge(u16),
    /// No Digest challenge with a supported algorithm and qop.
    #[error("no supported digest challenge")]
    NoSupportedChallenge,
    /// The caller has no credentials for this realm.
    #[error("no credentials for realm {realm:?}")]
    NoCredentials {
        /// The realm.
        realm: String,
    },
    /// The realm challenged our credentials again without `stale=true`:
    /// they are wrong; retrying would loop.
    #[error("credentials for realm {realm:?} were rejected")]
    Rejected {
        /// The realm.
        realm: String,
    },
    /// More than [`MAX_REALMS`] realms.
    #[error("too many realms (limit {MAX_REALMS})")]
    TooManyRealms,
    /// The request's CSeq is missing or cannot be incremented.
    #[error("request CSeq missing or exhausted")]
    CSeq,
    /// A header does not parse.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Digest computation failed.
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// A username/password for one realm (`realm: None` matches any realm,
/// after exact matches). Borrowed: the authenticator never keeps it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    /// The realm, or `None` for "any".
    pub realm: Option<&'a str>,
    /// Username.
    pub username: &'a str,
    /// Password.
    pub password: &'a str,
}

#[derive(Debug, Clone)]
struct RealmState {
    challenge: Challenge,
    proxy: bool,
    nc: u32,
    stale_retried: bool,
    /// The last credentials for this realm were sent pre-emptively
    /// (remembered nonce), not in answer to a challenge: a new challenge
    /// then means the server forgot that nonce (e.g. it restarted), not
    /// that the password is wrong, so it is answered once.
    preemptive: bool,
}

/// Never prints the password, so a `{:?}` in a log line cannot leak it.
impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("realm", &self.realm)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Per-realm digest state; see the module docs.
#[derive(Debug, Clone)]
pub struct Authenticator {
    rng: Rng,
    realms: BTreeMap<String, RealmState>,
}

/// Preference order: RFC 8760 / RFC 7616 §3.7 ask for the strongest.
fn strength(a: Algorithm) -> u8 {
    match a {
        Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 3,
        Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
        Algorithm::Md5 | Algorithm::Md5Sess => 1,
    }
}

/// The algorithm of a usable challenge, `None` if we cannot answer it.
fn usable(c: &Challenge) -> Option<Algorithm> {
    if !c.is_digest() || c.realm().is_none() || c.nonce().is_none() {
        return None;
    }
    let alg = match c.algorithm() {
        Some(a) => Algorithm::parse(&a).ok()?,
        None => Algorithm::Md5,
    };
    let qops = c.qop_options();
    let qop_ok = qops.is_empty()
        || qops
            .iter()
            .any(|q| q.eq_ignore_ascii_case("auth") || q.eq_ignore_ascii_case("auth-int"));
    qop_ok.then_some(alg)
}

fn header_names(proxy: bool) -> (&'static str, &'static str) {
    if proxy {
        (
            HeaderName::ProxyAuthenticate.as_str(),
            HeaderName::ProxyAuthorization.as_str(),
        )
    } else {
        (
            HeaderName::WwwAuthenticate.as_str(),
            HeaderName::Authorization.as_str(),
        )
    }
}

/// Credentials already in `req` under `name`, by realm.
fn existing(req: &Request, name: &str) -> Vec<(String, Credentials)> {
    req.headers
        .get_all(name)
        .filter_map(parse_credentials)
        .filter_map(|c| c.realm().map(|r| (r, c)))
        .collect()
}

fn parse_credentials(v: &str) -> Option<Credentials> {
    use sip_message::TypedHeader;
    sip_message::headers::Authorization::parse(v)
        .ok()
        .map(|a| a.0)
}

fn parse_challenge(v: &str) -> Option<Challenge> {
    use sip_message::TypedHeader;
    sip_message::headers::WwwAuthenticate::parse(v)
        .ok()
        .map(|a| a.0)
}

fn pick<'a>(creds: &'a [Credential<'a>], realm: &str) -> Option<&'a Credential<'a>> {
    creds
        .iter()
        .find(|c| c.realm == Some(realm))
        .or_else(|| creds.iter().find(|c| c.realm.is_none()))
}

impl Authenticator {
    /// A new authenticator; `seed` feeds the cnonces (pass OS randomness).
    pub fn new(seed: u64) -> Self {
        Authenticator {
            rng: Rng::new(seed),
            realms: BTreeMap::new(),
        }
    }

    /// Forgets every realm's nonce state.
    pub fn clear(&mut self) {
        self.realms.clear();
    }

    /// Answers `response` (401 or 407) to `request`: returns the request to
    /// send again, with credentials for every challenged realm, CSeq + 1
    /// (§22.2) and no Via branch (a new transaction gets a new one). For an
    /// in-dialog request, tell the dialog the new CSeq.
    pub fn authorize(
        &mut self,
        request: &Request,
        response: &Response,
        credentials: &[Credential<'_>],
    ) -> Result<Request, AuthError> {
        let proxy = match response.status.as_u16() {
            401 => false,
            407 => true,
            s => return Err(AuthError::NotAChallenge(s)),
        };
        let (challenge_name, cred_name) = header_names(proxy);

        // Strongest usable challenge per realm, in order of appearance.
        let mut best: Vec<(String, Algorithm, Challenge)> = Vec::new();
        for v in response.headers.get_all(challenge_name) {
            let Some(c) = parse_challenge(v) else {
                tracing::debug!(value = v, "unparsable challenge skipped");
                continue;
            };
            let (Some(alg), Some(realm)) = (usable(&c), c.realm()) else {
                continue;
            };
            match best.iter_mut().find(|(r, _, _)| *r == realm) {
                Some(slot) if strength(alg) > strength(slot.1) => *slot = (realm, alg, c),
                Some(_) => {}
                None => best.push((realm, alg, c)),
            }
        }
        if best.is_empty() {
            return Err(AuthError::NoSupportedChallenge);
        }

        let previous = existing(request, cred_name);
        let mut answers = Vec::new();
        for (realm, _, challenge) in best {
            let nonce = challenge.nonce().unwrap_or_default();
            let mut stale_retried = false;
            if let Some((_, prev)) = previous.iter().find(|(r, _)| *r == realm) {
                // We already answered this realm on this request.
                let same_nonce = prev.nonce().as_deref() == Some(nonce.as_str());
                let state = self.realms.get(&realm);
                let already = state.is_some_and(|s| s.stale_retried);
                let forgotten = state.is_some_and(|s| s.preemptive);
                if same_nonce || already || !(challenge.stale() || forgotten) {
                    return Err(AuthError::Rejected { realm });
                }
                stale_retried = challenge.stale();
            }
            let cred = pick(credentials, &realm).ok_or_else(|| AuthError::NoCredentials {
                realm: realm.clone(),
            })?;
            if !self.realms.contains_key(&realm) && self.realms.len() >= MAX_REALMS {
                return Err(AuthError::TooManyRealms);
            }
            let state = RealmState {
                challenge,
                proxy,
                nc: 0,
                stale_retried,
                preemptive: false,
            };
            self.realms.insert(realm.clone(), state);
            if let Some(state) = self.realms.get_mut(&realm) {
                answers.push((realm, answer(&mut self.rng, state, cred, request)?));
            }
        }

        let mut out = request.clone();
        // Drop our stale credentials for the realms just answered.
        let keep: Vec<String> = out
            .headers
            .get_all(cred_name)
            .filter(|v| {
                parse_credentials(v)
                    .and_then(|c| c.realm())
                    .is_none_or(|r| !answers.iter().any(|(a, _)| *a == r))
            })
            .map(str::to_owned)
            .collect();
        out.headers.remove(cred_name);
        for v in keep {
            out.headers.push(cred_name, &v)?;
        }
        for (_, c) in &answers {
            out.headers.push(cred_name, &c.to_string())?;
        }
        bump_cseq(&mut out)?;
        strip_branch(&mut out)?;
        Ok(out)
    }

    /// Adds credentials for every realm with remembered nonce state to a
    /// new request (pre-emptive authentication with nc + 1, RFC 7616
    /// §3.4), skipping realms it already has credentials for. Returns how
    /// many were added. Use one authenticator per server/account.
    pub fn apply_cached(
        &mut self,
        request: &mut Request,
        credentials: &[Credential<'_>],
    ) -> Result<usize, AuthError> {
        let mut added = 0;
        let realms: Vec<String> = self.realms.keys().cloned().collect();
        for realm in realms {
            let Some(cred) = pick(credentials, &realm) else {
                continue;
            };
            let Some(state) = self.realms.get_mut(&realm) else {
                continue;
            };
            let (_, name) = header_names(state.proxy);
            if existing(request, name).iter().any(|(r, _)| *r == realm) {
                continue;
            }
            let c = answer(&mut self.rng, state, cred, request)?;
            state.preemptive = true;
            request.headers.push(name, &c.to_string())?;
            added += 1;
        }
        Ok(added)
    }

    /// The nonce-count last used for `realm`.
    pub fn nonce_count(&self, realm: &str) -> Option<u32> {
        self.realms.get(realm).map(|s| s.nc)
    }
}

/// Computes the next credentials for `state` (nc + 1, fresh cnonce).
fn answer(
    rng: &mut Rng,
    state: &mut RealmState,
    cred: &Credential<'_>,
    request: &Request,
) -> Result<Credentials, AuthError> {
    state.nc = state.nc.saturating_add(1);
    let cnonce = rng.token();
    let secret = ClientSecret {
        username: cred.username,
        password: cred.password,
        cnonce: &cnonce,
        nc: state.nc,
    };
    let uri = request.uri.to_string();
    Ok(digest::answer(
        &state.challenge,
        &secret,
        &request.method,
        &uri,
        &request.body,
    )?)
}

fn bump_cseq(req: &mut Request) -> Result<(), AuthError> {
    let mut c = req.headers.cseq()?.ok_or(AuthError::CSeq)?;
    if c.seq >= sip_message::headers::CSeq::MAX {
        return Err(AuthError::CSeq);
    }
    c.seq += 1;
    req.headers.set_typed(&c);
    Ok(())
}

fn strip_branch(req: &mut Request) -> Result<(), AuthError> {
    let mut all = req.headers.via()?;
    if let Some(top) = all.first_mut() {
        top.params.remove("branch");
        req.headers.remove("Via");
        for v in all.iter().rev() {
            req.headers.prepend_typed(v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod debug_tests {
    use super::Credential;

    #[test]
    fn debug_output_never_shows_the_password() {
        let c = Credential {
            realm: Some("r"),
            username: "alice",
            password: "s3cret-pw",
        };
        let text = format!("{c:?}");
        assert!(
            text.contains("alice") && !text.contains("s3cret-pw"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod tests {
    use sip_message::headers::Authorization;
    use sip_message::{Message, Method, TypedHeader};

    use super::*;

    fn register() -> Request {
        let text = "REGISTER sip:registrar.example.com SIP/2.0\r\n\
                    Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKreg1\r\n\
                    Max-Forwards: 70\r\n\
                    From: <sip:alice@example.com>;tag=r1\r\n\
                    To: <sip:alice@example.com>\r\n\
                    Call-ID: reg1@192.0.2.1\r\n\
                    CSeq: 7 REGISTER\r\n\
                    Contact: <sip:alice@192.0.2.1>\r\n\
                    Content-Length: 0\r\n\r\n";
        match sip_message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            e => panic!("{e:?}"),
        }
    }

    fn challenge(req: &Request, code: u16, challenges: &[&str]) -> Response {
        let mut r = Response::for_request(req, crate::status(code));
        let name = if code == 407 {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        for c in challenges {
            r.headers.push(name, c).unwrap();
        }
        r
    }

    const ALICE: Credential<'static> = Credential {
        realm: Some("example.com"),
        username: "alice",
        password: "secret",
    };

    fn creds_of(req: &Request, name: &str) -> Vec<Credentials> {
        req.headers
            .get_all(name)
            .map(|v| Authorization::parse(v).unwrap().0)
            .collect()
    }

    #[test]
    fn picks_strongest_algorithm_and_verifies() {
        let req = register();
        let resp = challenge(
            &req,
            401,
            &[
                r#"Digest realm="example.com", nonce="n1", algorithm=MD5, qop="auth""#,
                r#"Digest realm="example.com", nonce="n1", algorithm=SHA-512-256, qop="auth""#,
                r#"Digest realm="example.com", nonce="n1", algorithm=SHA-256, qop="auth""#,
            ],
        );
        let mut a = Authenticator::new(1);
        let out = a.authorize(&req, &resp, &[ALICE]).unwrap();
        let c = creds_of(&out, "Authorization");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].algorithm().as_deref(), Some("SHA-512-256"));
        assert_eq!(c[0].qop().as_deref(), Some("auth"));
        assert_eq!(c[0].nc(), Some(1));
        assert_eq!(c[0].uri().as_deref(), Some("sip:registrar.example.com"));
        assert!(digest::verify(&c[0], "secret", &Method::Register, b"").unwrap());
        assert!(!digest::verify(&c[0], "wrong", &Method::Register, b"").unwrap());
        // New transaction: CSeq + 1, branch removed for the layer to fill.
        assert_eq!(out.headers.cseq().unwrap().unwrap().seq, 8);
        assert_eq!(out.headers.top_via().unwrap().unwrap().branch(), None);
    }

    #[test]
    fn second_challenge_without_stale_is_rejected() {
        let req = register();
        let ch = r#"Digest realm="example.com", nonce="n1", qop="auth""#;
        let mut a = Authenticator::new(2);
        let out = a
            .authorize(&req, &challenge(&req, 401, &[ch]), &[ALICE])
            .unwrap();
        // Same realm again, even with a fresh nonce: wrong password.
        let again = challenge(
            &out,
            401,
            &[r#"Digest realm="example.com", nonce="n2", qop="auth""#],
        );
        assert_eq!(
            a.authorize(&out, &again, &[ALICE]),
            Err(AuthError::Rejected {
                realm: "example.com".into()
            })
        );
    }

    #[test]
    fn a_forgotten_cached_nonce_is_answered_once_then_rejected() {
        let req = register();
        let mut a = Authenticator::new(9);
        a.authorize(
            &req,
            &challenge(&req, 401, &[r#"Digest realm="example.com", nonce="n1""#]),
            &[ALICE],
        )
        .unwrap();
        // A later request carries the remembered nonce pre-emptively...
        let mut refresh = register();
        assert_eq!(a.apply_cached(&mut refresh, &[ALICE]).unwrap(), 1);
        // ...and a restarted registrar, which never issued n1, challenges
        // without stale=true: answered (the server forgot, not a bad password).
        let fresh = challenge(
            &refresh,
            401,
            &[r#"Digest realm="example.com", nonce="n9""#],
        );
        let answered = a.authorize(&refresh, &fresh, &[ALICE]).unwrap();
        assert_eq!(
            creds_of(&answered, "Authorization")[0].nonce().as_deref(),
            Some("n9")
        );
        // A further challenge to that answer is a real rejection.
        let again = challenge(
            &answered,
            401,
            &[r#"Digest realm="example.com", nonce="n10""#],
        );
        assert!(matches!(
            a.authorize(&answered, &again, &[ALICE]),
            Err(AuthError::Rejected { .. })
        ));
    }

    #[test]
    fn stale_nonce_is_retried_once() {
        let req = register();
        let mut a = Authenticator::new(3);
        let first = a
            .authorize(
                &req,
                &challenge(&req, 401, &[r#"Digest realm="example.com", nonce="n1""#]),
                &[ALICE],
            )
            .unwrap();
        let stale = challenge(
            &first,
            401,
            &[r#"Digest realm="example.com", nonce="n2", stale=true"#],
        );
        let second = a.authorize(&first, &stale, &[ALICE]).unwrap();
        let c = creds_of(&second, "Authorization");
        assert_eq!(c.len(), 1, "old credentials replaced");
        assert_eq!(c[0].nonce().as_deref(), Some("n2"));
        assert_eq!(second.headers.cseq().unwrap().unwrap().seq, 9);
        // Stale again: do not loop.
        let stale2 = challenge(
            &second,
            401,
            &[r#"Digest realm="example.com", nonce="n3", stale=true"#],
        );
        assert!(matches!(
            a.authorize(&second, &stale2, &[ALICE]),
            Err(AuthError::Rejected { .. })
        ));
        // stale=true with the nonce we just used is bogus too.
        let mut b = Authenticator::new(4);
        let first = b
            .authorize(
                &req,
                &challenge(&req, 401, &[r#"Digest realm="example.com", nonce="n1""#]),
                &[ALICE],
            )
            .unwrap();
        let same = challenge(
            &first,
            401,
            &[r#"Digest realm="example.com", nonce="n1", stale=true"#],
        );
        assert!(b.authorize(&first, &same, &[ALICE]).is_err());
    }

    #[test]
    fn proxy_challenges_per_realm_and_missing_credentials() {
        let req = register();
        let resp = challenge(
            &req,
            407,
            &[
                r#"Digest realm="example.com", nonce="a", algorithm=SHA-256"#,
                r#"Digest realm="proxy.example.net", nonce="b""#,
            ],
        );
        let mut a = Authenticator::new(5);
        assert_eq!(
            a.authorize(&req, &resp, &[ALICE]),
            Err(AuthError::NoCredentials {
                realm: "proxy.example.net".into()
            })
        );
        let any = Credential {
            realm: None,
            username: "bob",
            password: "pw",
        };
        let out = a.authorize(&req, &resp, &[any, ALICE]).unwrap();
        let c = creds_of(&out, "Proxy-Authorization");
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0].username().as_deref(),
            Some("alice"),
            "exact realm wins"
        );
        assert_eq!(c[1].username().as_deref(), Some("bob"), "wildcard");
        assert_eq!(c[1].algorithm(), None, "MD5 by default, not echoed");
        assert!(digest::verify(&c[1], "pw", &Method::Register, b"").unwrap());
        assert!(out.headers.get("Authorization").is_none());
    }

    #[test]
    fn auth_int_when_only_offered_and_unsupported_rejected() {
        let mut req = register();
        req.set_body(b"body".to_vec(), None);
        let resp = challenge(
            &req,
            401,
            &[r#"Digest realm="example.com", nonce="n", qop="auth-int""#],
        );
        let mut a = Authenticator::new(6);
        let out = a.authorize(&req, &resp, &[ALICE]).unwrap();
        let c = &creds_of(&out, "Authorization")[0];
        assert_eq!(c.qop().as_deref(), Some("auth-int"));
        assert!(digest::verify(c, "secret", &Method::Register, b"body").unwrap());
        assert!(!digest::verify(c, "secret", &Method::Register, b"other").unwrap());

        let bad = challenge(
            &req,
            401,
            &[
                r#"Digest realm="example.com", nonce="n", algorithm=SHA-1"#,
                r#"Basic realm="example.com""#,
                r#"Digest realm="example.com", nonce="n", qop="weird""#,
            ],
        );
        assert_eq!(
            a.authorize(&req, &bad, &[ALICE]),
            Err(AuthError::NoSupportedChallenge)
        );
        let ok = Response::for_request(&req, crate::status(200));
        assert_eq!(
            a.authorize(&req, &ok, &[ALICE]),
            Err(AuthError::NotAChallenge(200))
        );
    }

    #[test]
    fn nonce_count_increments_on_reuse() {
        let req = register();
        let mut a = Authenticator::new(7);
        a.authorize(
            &req,
            &challenge(
                &req,
                401,
                &[r#"Digest realm="example.com", nonce="n1", qop="auth", opaque="op""#],
            ),
            &[ALICE],
        )
        .unwrap();
        assert_eq!(a.nonce_count("example.com"), Some(1));
        let mut next = register();
        assert_eq!(a.apply_cached(&mut next, &[ALICE]).unwrap(), 1);
        let c = &creds_of(&next, "Authorization")[0];
        assert_eq!(c.nc(), Some(2));
        assert_eq!(c.opaque().as_deref(), Some("op"));
        assert!(digest::verify(c, "secret", &Method::Register, b"").unwrap());
        // Already carrying credentials for the realm: nothing added.
        assert_eq!(a.apply_cached(&mut next, &[ALICE]).unwrap(), 0);
        let mut third = register();
        a.apply_cached(&mut third, &[ALICE]).unwrap();
        assert_eq!(creds_of(&third, "Authorization")[0].nc(), Some(3));
        // No credentials given: skipped, not an error.
        let mut fourth = register();
        assert_eq!(a.apply_cached(&mut fourth, &[]).unwrap(), 0);
        a.clear();
        assert_eq!(a.nonce_count("example.com"), None);
    }
}
