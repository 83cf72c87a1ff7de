//! `sip:`, `sips:`, `tel:` and `callto:` links: the OS starts `parley URI`
//! (Linux, Windows) or sends the URI as an event (macOS). The first launch
//! calls once the engine is up; a second launch hands its URI to the
//! running instance (single-instance plugin) and exits. Either way the
//! URI reaches [`open`], which brings the window to the front and dials.

use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::error::RecvError;
use ua::{AccountInfo, Engine, RegistrationState};

/// Event that tells the UI a link could not be called (display text).
pub(crate) const LINK_ERROR_EVENT: &str = "link://error";

/// Longest link taken (the engine's own limit for a target is 512).
const MAX_LINK: usize = 1024;

/// How long a link opened at start waits for an account to register
/// before calling from the first enabled one anyway.
const REGISTER_WAIT: Duration = Duration::from_secs(10);

/// Why a link cannot be called.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("the link is empty")]
    Empty,
    #[error("the link is too long")]
    TooLong,
    #[error("links of this kind cannot be called (only sip:, sips:, tel: and callto:)")]
    Scheme,
    #[error("the link names nobody to call")]
    NoTarget,
    #[error("the link contains spaces or control characters")]
    BadCharacters,
    #[error("the link's escapes are not valid text")]
    BadEscape,
    #[error("the tel: link has no phone number")]
    BadNumber,
    #[error("no account can place the call")]
    NoAccount,
    #[error(transparent)]
    Engine(#[from] ua::EngineError),
}

/// The dial target of a link, as the dialpad would build it: `sip:` and
/// `sips:` URIs are kept, `tel:` numbers lose their visual separators and
/// parameters and are dialled at the account's domain, `callto:` becomes a
/// SIP URI (`callto:bob@host`), a number or a user name.
pub(crate) fn dial_target(link: &str) -> Result<String, LinkError> {
    let link = link.trim();
    if link.is_empty() {
        return Err(LinkError::Empty);
    }
    if link.len() > MAX_LINK {
        return Err(LinkError::TooLong);
    }
    let (scheme, rest) = link.split_once(':').ok_or(LinkError::Scheme)?;
    match scheme.to_ascii_lowercase().as_str() {
        s @ ("sip" | "sips") => {
            // Browsers sometimes hand over `sip://bob@host`.
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest.is_empty() || rest.starts_with('@') {
                return Err(LinkError::NoTarget);
            }
            if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(LinkError::BadCharacters);
            }
            Ok(format!("{s}:{rest}"))
        }
        "tel" => {
            let text = percent_decode(rest)?;
            // RFC 3966 parameters (`;phone-context=`, `;ext=`) are not dialled.
            let number = text.split(';').next().unwrap_or_default();
            phone_number(number).ok_or(LinkError::BadNumber)
        }
        "callto" => {
            let text = percent_decode(rest)?;
            let text = text.trim();
            let text = text
                .strip_prefix("//")
                .unwrap_or(text)
                .trim_end_matches('/');
            if text.is_empty() {
                return Err(LinkError::NoTarget);
            }
            let lower = text.to_ascii_lowercase();
            if lower.starts_with("sip:") || lower.starts_with("sips:") {
                return dial_target(text);
            }
            if let Some(number) = phone_number(text) {
                return Ok(number);
            }
            if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(LinkError::BadCharacters);
            }
            if text.starts_with('@') || text.ends_with('@') {
                return Err(LinkError::NoTarget);
            }
            // `bob@host` is a SIP address; a bare name is dialled at the
            // account's domain, like the dialpad does.
            Ok(if text.contains('@') {
                format!("sip:{text}")
            } else {
                text.to_owned()
            })
        }
        _ => Err(LinkError::Scheme),
    }
}

/// A phone number without its visual separators (`+49 171 234-56`), or
/// `None` when it is not one.
fn phone_number(text: &str) -> Option<String> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let body = digits.strip_prefix('+').unwrap_or(&digits);
    let ok = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
    ok.then_some(digits)
}

/// `%XX` escapes decoded (links from web pages escape spaces and `+`).
fn percent_decode(text: &str) -> Result<String, LinkError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(LinkError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| LinkError::BadEscape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| LinkError::BadEscape)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| LinkError::BadEscape)
}

/// The account a link calls from: the first registered one, else the first
/// enabled one (as the dialpad picks).
pub(crate) fn pick_account(accounts: &[AccountInfo]) -> Option<&AccountInfo> {
    accounts
        .iter()
        .find(|a| matches!(a.registration, RegistrationState::Registered { .. }))
        .or_else(|| {
            accounts
                .iter()
                .find(|a| a.registration != RegistrationState::Disabled)
        })
}

/// Still on its way to a registration: worth waiting for.
fn pending(a: &AccountInfo) -> bool {
    matches!(
        a.registration,
        RegistrationState::Registering | RegistrationState::Unregistered
    )
}

/// The account to call from, waiting a little for one that registers
/// when the app has just started.
async fn account_for_call(engine: &Engine) -> Result<String, LinkError> {
    let mut events = engine.subscribe();
    let deadline = tokio::time::Instant::now() + REGISTER_WAIT;
    loop {
        let accounts = engine.status().await?.accounts;
        let registered = accounts
            .iter()
            .any(|a| matches!(a.registration, RegistrationState::Registered { .. }));
        if registered || !accounts.iter().any(pending) {
            return pick_account(&accounts)
                .map(|a| a.name.clone())
                .ok_or(LinkError::NoAccount);
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) => return Err(ua::EngineError::Stopped.into()),
            Err(_) => {
                return pick_account(&accounts)
                    .map(|a| a.name.clone())
                    .ok_or(LinkError::NoAccount)
            }
        }
    }
}

/// Brings the main window to the front.
pub(crate) fn focus(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        // Each may fail on a window manager that refuses; the call goes on.
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Calls the target of `link` (the window shows the call as the engine
/// reports it); failures reach the UI as [`LINK_ERROR_EVENT`].
pub(crate) fn open(app: &AppHandle, link: &str) {
    focus(app);
    let target = dial_target(link);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let result = async {
            let target = target?;
            let engine = app.state::<Engine>().inner().clone();
            let account = account_for_call(&engine).await?;
            engine.call(&account, &target).await?;
            Ok::<(), LinkError>(())
        }
        .await;
        if let Err(e) = result {
            // The reason may quote the address: personal data, debug only.
            tracing::warn!("cannot call a link");
            tracing::debug!("cannot call a link: {e}");
            let _ = app.emit(LINK_ERROR_EVENT, format!("Cannot call the link: {e}"));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ua::TransportKind;

    fn ok(link: &str) -> String {
        dial_target(link).unwrap()
    }

    fn refused(link: &str) -> LinkError {
        dial_target(link).unwrap_err()
    }

    #[test]
    fn sip_links_are_kept() {
        assert_eq!(ok("sip:bob@127.0.0.1:5070"), "sip:bob@127.0.0.1:5070");
        assert_eq!(
            ok(" SIPS:bob@example.com;transport=tls "),
            "sips:bob@example.com;transport=tls"
        );
        assert_eq!(ok("sip://bob@example.com"), "sip:bob@example.com");
    }

    #[test]
    fn tel_links_become_numbers() {
        assert_eq!(ok("tel:+49-171-234.56"), "+4917123456");
        assert_eq!(ok("tel:+49%20171%20234"), "+49171234");
        assert_eq!(ok("tel:1234;phone-context=example.com"), "1234");
        assert_eq!(ok("TEL:*21#"), "*21#");
    }

    #[test]
    fn callto_links_become_addresses_numbers_or_names() {
        assert_eq!(ok("callto://bob@example.com"), "sip:bob@example.com");
        assert_eq!(ok("callto:+1 (555) 123"), "+1555123");
        assert_eq!(ok("callto:bob"), "bob");
        assert_eq!(ok("callto:sip:bob@example.com"), "sip:bob@example.com");
        assert_eq!(ok("callto://alice/"), "alice");
    }

    #[test]
    fn bad_links_are_refused_with_a_reason() {
        assert!(matches!(refused(""), LinkError::Empty));
        assert!(matches!(refused("   "), LinkError::Empty));
        assert!(matches!(refused("bob@example.com"), LinkError::Scheme));
        assert!(matches!(refused("https://example.com"), LinkError::Scheme));
        assert!(matches!(refused("sip:"), LinkError::NoTarget));
        assert!(matches!(refused("sip://"), LinkError::NoTarget));
        assert!(matches!(refused("sip:@host"), LinkError::NoTarget));
        assert!(matches!(refused("sip:bob @host"), LinkError::BadCharacters));
        assert!(matches!(
            refused("sip:bob\u{0}@h"),
            LinkError::BadCharacters
        ));
        assert!(matches!(refused("tel:"), LinkError::BadNumber));
        assert!(matches!(refused("tel:+"), LinkError::BadNumber));
        assert!(matches!(refused("tel:call-me"), LinkError::BadNumber));
        assert!(matches!(refused("tel:12%"), LinkError::BadEscape));
        assert!(matches!(refused("tel:%zz"), LinkError::BadEscape));
        assert!(matches!(refused("tel:%ff%fe"), LinkError::BadEscape));
        assert!(matches!(refused("callto://"), LinkError::NoTarget));
        assert!(matches!(
            refused("callto:bob smith"),
            LinkError::BadCharacters
        ));
        assert!(matches!(refused("callto:bob@"), LinkError::NoTarget));
        let long = format!("sip:{}@h", "a".repeat(2000));
        assert!(matches!(refused(&long), LinkError::TooLong));
        // The reasons read as sentences for the UI.
        assert_eq!(
            refused("tel:call-me").to_string(),
            "the tel: link has no phone number"
        );
        // Nothing panics on odd input, multi-byte text included.
        for s in [
            "%",
            "tel:%",
            "tel:%\u{e9}",
            "callto:%e2%82",
            "sip:\u{fc}@\u{fc}",
            ":",
            "\u{e9}:",
        ] {
            let _ = dial_target(s);
        }
    }

    fn account(name: &str, registration: RegistrationState) -> AccountInfo {
        AccountInfo {
            name: name.into(),
            uri: format!("sip:{name}@example.com"),
            display_name: None,
            transport: TransportKind::Udp,
            local: false,
            registration,
        }
    }

    #[test]
    fn the_first_registered_account_calls() {
        let accounts = vec![
            account("off", RegistrationState::Disabled),
            account("failing", RegistrationState::Unregistered),
            account("work", RegistrationState::Registered { expires_in_s: 600 }),
        ];
        assert_eq!(pick_account(&accounts).unwrap().name, "work");
        assert_eq!(pick_account(&accounts[..2]).unwrap().name, "failing");
        assert!(pick_account(&accounts[..1]).is_none());
        assert!(pending(&accounts[1]) && !pending(&accounts[2]));
    }
}
