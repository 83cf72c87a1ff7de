use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn parse(text: &str) -> Message {
    sip_message::parse(text.as_bytes()).unwrap()
}

const LOCAL: &str = "127.0.0.1:5070";
const REMOTE: &str = "127.0.0.1:5060";

fn register(call_id: &str, cseq: u32, auth: Option<&str>) -> Message {
    let auth = auth.map(|a| format!("{a}\r\n")).unwrap_or_default();
    parse(&format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         {auth}Contact: <sip:alice@127.0.0.1:5070>\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

fn response(call_id: &str, cseq: u32, method: &str, status: u16, reason: &str) -> Message {
    parse(&format!(
        "SIP/2.0 {status} {reason}\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{cseq};rport=5070\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:alice@127.0.0.1>;tag=b2\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

fn sent(trace: &SipTrace, m: &Message) {
    trace.record(
        TraceDirection::Sent,
        Proto::Udp,
        Some(addr(LOCAL)),
        addr(REMOTE),
        m,
    );
}

fn received(trace: &SipTrace, m: &Message) {
    trace.record(
        TraceDirection::Received,
        Proto::Udp,
        Some(addr(LOCAL)),
        addr(REMOTE),
        m,
    );
}

#[test]
fn digest_response_is_masked_and_the_rest_kept() {
    let line = "Authorization: Digest username=\"alice\", realm=\"127.0.0.1\", \
                nonce=\"abc\", uri=\"sip:127.0.0.1\", response=\"0123456789abcdef0123456789abcdef\", \
                algorithm=MD5, cnonce=\"c1\", qop=auth, nc=00000001";
    let text = format!("REGISTER sip:127.0.0.1 SIP/2.0\r\n{line}\r\nContent-Length: 0\r\n\r\n");
    let out = mask(&text);
    assert_eq!(
        out,
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Authorization: Digest username=\"alice\", realm=\"127.0.0.1\", \
         nonce=\"abc\", uri=\"sip:127.0.0.1\", response=\"********\", \
         algorithm=MD5, cnonce=\"c1\", qop=auth, nc=00000001\r\n\
         Content-Length: 0\r\n\r\n"
    );
}

#[test]
fn proxy_authorization_any_case_unquoted_and_folded() {
    let text = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
                proxy-authorization : digest username=\"alice\",RESPONSE = deadbeef,realm=\"x\"\r\n\
                Proxy-Authorization: Digest username=\"alice\",\r\n \
                 nonce=\"n\",\r\n\tresponse=\"cafebabe\"\r\n\
                Content-Length: 0\r\n\r\n";
    let out = mask(text);
    assert!(
        !out.contains("deadbeef") && !out.contains("cafebabe"),
        "{out}"
    );
    assert!(
        out.contains(
            "proxy-authorization : digest username=\"alice\",RESPONSE = ********,realm=\"x\"\r\n"
        ),
        "{out}"
    );
    assert!(out.contains("\tresponse=\"********\"\r\n"), "{out}");
    assert!(out.contains("nonce=\"n\""), "{out}");
}

#[test]
fn rspauth_and_non_digest_credentials_are_masked() {
    let text = "SIP/2.0 200 OK\r\n\
                Authentication-Info: qop=auth, rspauth=\"feedface\", cnonce=\"c\", nc=00000001\r\n\
                Authorization: Bearer eyJhbGciOi.secret.token\r\n\
                Content-Length: 0\r\n\r\n";
    let out = mask(text);
    assert!(
        !out.contains("feedface") && !out.contains("secret.token"),
        "{out}"
    );
    assert!(out.contains("rspauth=\"********\", cnonce=\"c\""), "{out}");
    assert!(out.contains("Authorization: Bearer ********\r\n"), "{out}");
}

#[test]
fn uri_passwords_are_masked_wherever_they_are() {
    let text = "INVITE sip:bob:pw1@127.0.0.1 SIP/2.0\r\n\
                From: \"A\" <SIP:alice:pw2@127.0.0.1>;tag=1\r\n\
                Contact: <sips:alice:pw3@[::1]:5061;transport=tls>\r\n\
                Content-Type: text/plain\r\n\
                Content-Length: 26\r\n\r\n\
                see sip:carol:pw4@example\r\n";
    let out = mask(text);
    for pw in ["pw1", "pw2", "pw3", "pw4"] {
        assert!(!out.contains(pw), "{pw} in {out}");
    }
    assert!(out.starts_with("INVITE sip:bob:********@127.0.0.1 SIP/2.0\r\n"));
    assert!(out.contains("<SIP:alice:********@127.0.0.1>;tag=1"));
    assert!(out.contains("<sips:alice:********@[::1]:5061;transport=tls>"));
    assert!(out.contains("see sip:carol:********@example"));
}

#[test]
fn sdes_keys_are_masked() {
    let text = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nContent-Length: 99\r\n\r\n\
                v=0\r\n\
                a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n\
                a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n";
    let out = mask(text);
    assert!(!out.contains("WVNf") && !out.contains("NzB4"), "{out}");
    assert!(out.contains("inline:********|2^20|1:4\r\n"), "{out}");
    assert!(out.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:********\r\n"));
}

#[test]
fn messages_without_secrets_are_not_altered() {
    let text = "INVITE sip:bob@127.0.0.1:5060;transport=udp SIP/2.0\r\n\
                Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\n\
                From: \"Alice\" <sip:alice@127.0.0.1>;tag=1\r\n\
                To: sip:127.0.0.1:5060\r\n\
                Contact: <sip:127.0.0.1:5070>\r\n\
                Subject: response=not-a-credential, sip:x:y\r\n\
                WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n\
                Call-ID: c@h\r\n\
                CSeq: 1 INVITE\r\n\
                Content-Type: application/sdp\r\n\
                Content-Length: 50\r\n\r\n\
                v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n\
                a=sendrecv\r\nбез секретов\r\n";
    assert_eq!(mask(text), text);
    // Lone newlines and no final newline survive too.
    assert_eq!(mask("a\nb"), "a\nb");
}

#[test]
fn register_with_auth_is_grouped_masked_and_summarised() {
    let trace = SipTrace::default();
    sent(&trace, &register("reg-1", 1, None));
    received(
        &trace,
        &response("reg-1", 1, "REGISTER", 401, "Unauthorized"),
    );
    sent(
        &trace,
        &register(
            "reg-1",
            2,
            Some("Authorization: Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"n\", uri=\"sip:127.0.0.1\", response=\"0123456789abcdef0123456789abcdef\""),
        ),
    );
    received(&trace, &response("reg-1", 2, "REGISTER", 200, "OK"));
    let dialogs = trace.dialogs();
    assert_eq!(dialogs.len(), 1);
    let d = &dialogs[0];
    assert_eq!(d.call_id, "reg-1");
    assert_eq!(d.method, "REGISTER");
    assert_eq!(d.peer, "sip:alice@127.0.0.1");
    assert_eq!(d.remote, REMOTE);
    assert!(d.outgoing);
    assert_eq!(d.final_status, Some(200));
    assert_eq!((d.messages, d.dropped), (4, 0));
    let msgs = trace.messages("reg-1").unwrap();
    let summaries: Vec<&str> = msgs.iter().map(|m| m.summary.as_str()).collect();
    assert_eq!(
        summaries,
        ["REGISTER", "401 Unauthorized", "REGISTER", "200 OK"]
    );
    assert_eq!(msgs[1].status, Some(401));
    assert_eq!(msgs[1].method, "REGISTER");
    assert_eq!(msgs[1].direction, TraceDirection::Received);
    assert_eq!(msgs[0].local, LOCAL);
    assert!(msgs.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(msgs[2].text.contains("response=\"********\""));
    let export = trace.export(None).unwrap();
    assert!(!export.contains("0123456789abcdef"), "{export}");
    assert!(
        export.contains("==== REGISTER sip:alice@127.0.0.1 · Call-ID reg-1 · 4 message(s) ====")
    );
    assert!(
        export.contains(&format!(
            "sent {LOCAL} --> {REMOTE} REGISTER (UDP) ----\nREGISTER sip:127.0.0.1 SIP/2.0\r\n"
        )),
        "{export}"
    );
    assert!(
        export.contains(&format!(
            "received {REMOTE} <-- {LOCAL} 401 Unauthorized (UDP)"
        )),
        "{export}"
    );
    assert_eq!(trace.export(Some("reg-1")).unwrap(), export);
    assert!(matches!(
        trace.messages("nope"),
        Err(TraceError::NoSuchDialog)
    ));
    assert!(matches!(
        trace.export(Some("nope")),
        Err(TraceError::NoSuchDialog)
    ));
    trace.clear();
    assert!(trace.dialogs().is_empty());
    assert_eq!(trace.export(None).unwrap(), "");
}

#[test]
fn peer_of_an_incoming_request_is_its_from_with_password_masked() {
    let trace = SipTrace::default();
    let invite = parse(
        "INVITE sip:me@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
         From: <sip:bob:hunter2@127.0.0.1>;tag=9\r\n\
         To: <sip:me@127.0.0.1>\r\n\
         Call-ID: in-1\r\n\
         CSeq: 7 INVITE\r\n\
         Content-Length: 0\r\n\r\n",
    );
    received(&trace, &invite);
    let d = &trace.dialogs()[0];
    assert_eq!(d.peer, "sip:bob:********@127.0.0.1");
    assert!(!d.outgoing);
    assert_eq!(d.final_status, None);
    assert!(!trace.export(None).unwrap().contains("hunter2"));
}

#[test]
fn off_records_nothing_and_forgets() {
    let trace = SipTrace::default();
    sent(&trace, &register("a", 1, None));
    trace.set_enabled(false);
    assert!(!trace.is_enabled());
    assert!(trace.dialogs().is_empty());
    sent(&trace, &register("b", 1, None));
    assert!(trace.dialogs().is_empty());
    trace.set_enabled(true);
    sent(&trace, &register("c", 1, None));
    assert_eq!(trace.dialogs().len(), 1);
}

#[test]
fn dialog_cap_evicts_the_least_recently_active() {
    let trace = SipTrace::new(TraceLimits {
        max_dialogs: 2,
        ..TraceLimits::default()
    });
    sent(&trace, &register("a", 1, None));
    sent(&trace, &register("b", 1, None));
    // "a" is active again, so "b" is the oldest now.
    received(&trace, &response("a", 1, "REGISTER", 200, "OK"));
    sent(&trace, &register("c", 1, None));
    let ids: Vec<String> = trace.dialogs().into_iter().map(|d| d.call_id).collect();
    assert_eq!(ids, ["c", "a"]);
}

#[test]
fn message_cap_drops_a_dialogs_oldest_messages() {
    let trace = SipTrace::new(TraceLimits {
        max_messages: 3,
        ..TraceLimits::default()
    });
    for cseq in 1..=5 {
        sent(&trace, &register("a", cseq, None));
    }
    let d = &trace.dialogs()[0];
    assert_eq!((d.messages, d.dropped), (3, 2));
    let msgs = trace.messages("a").unwrap();
    assert!(msgs[0].text.contains("CSeq: 3 REGISTER"));
    assert!(msgs[2].text.contains("CSeq: 5 REGISTER"));
}

#[test]
fn byte_cap_evicts_oldest_dialogs_then_oldest_messages() {
    let one = register("a", 1, None).to_bytes().len();
    let trace = SipTrace::new(TraceLimits {
        max_bytes: one * 3 + one / 2,
        ..TraceLimits::default()
    });
    sent(&trace, &register("a", 1, None));
    sent(&trace, &register("b", 1, None));
    sent(&trace, &register("c", 1, None));
    assert_eq!(trace.dialogs().len(), 3);
    sent(&trace, &register("d", 1, None));
    let ids: Vec<String> = trace.dialogs().into_iter().map(|d| d.call_id).collect();
    assert_eq!(ids, ["d", "c", "b"]);
    // One dialog alone over the cap loses its own oldest messages.
    for cseq in 2..=6 {
        sent(&trace, &register("d", cseq, None));
    }
    let ds = trace.dialogs();
    assert_eq!(ds.len(), 1);
    assert_eq!((ds[0].messages, ds[0].dropped), (3, 3));
    let kept: usize = trace
        .messages("d")
        .unwrap()
        .iter()
        .map(|m| m.text.len())
        .sum();
    assert!(kept <= one * 3 + one / 2);
    // A message larger than the whole cap is not kept at all.
    let tiny = SipTrace::new(TraceLimits {
        max_bytes: 10,
        ..TraceLimits::default()
    });
    sent(&tiny, &register("a", 1, None));
    assert!(tiny.dialogs().is_empty());
}

#[test]
fn times_are_formatted_in_utc() {
    assert_eq!(format_time(0), "1970-01-01 00:00:00.000 UTC");
    assert_eq!(
        format_time(1_795_942_295_123),
        "2026-11-29 08:51:35.123 UTC"
    );
    assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00.000 UTC");
}

#[test]
fn masking_any_mix_of_tricky_pieces_never_panics_and_keeps_lines() {
    // Multibyte text next to quotes, escapes and the markers the masker
    // looks for: every slice it takes must stay on a char boundary.
    const PIECES: [&str; 14] = [
        "response=\"",
        "\\",
        "é",
        "\"",
        "sip:",
        ":",
        "@",
        "Authorization: Digest ",
        "\r\n",
        "a=crypto:1 x inline:",
        "rspauth=",
        ",",
        " ",
        "ж",
    ];
    let n = PIECES.len();
    for code in 0..n.pow(4) {
        let mut text = String::new();
        let mut c = code;
        for _ in 0..4 {
            text.push_str(PIECES[c % n]);
            c /= n;
        }
        for input in [text.clone(), format!("X: y\r\n\r\n{text}")] {
            let out = mask(&input);
            assert_eq!(
                out.matches('\n').count(),
                input.matches('\n').count(),
                "{input:?} -> {out:?}"
            );
        }
    }
}
