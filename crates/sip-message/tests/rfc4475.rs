//! RFC 4475 torture messages: every `valid` message parses with the fields
//! the RFC describes, every `invalid` one is rejected with a specific error
//! (or, where the RFC lets an element accept it, the choice is documented),
//! and the transaction/application/compat messages parse and expose their
//! defect to the layer above.

use sip_message::headers::*;
use sip_message::uri::{unescape, Host, Uri, UriError};
use sip_message::{parse, HeaderError, Message, Method, ParseError, Request, Response};

macro_rules! msg {
    ($name:literal) => {
        include_bytes!(concat!("data/rfc4475/", $name, ".dat")).as_slice()
    };
}

fn req(data: &[u8]) -> Request {
    match parse(data) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected request, got {other:?}"),
    }
}

fn resp(data: &[u8]) -> Response {
    match parse(data) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected response, got {other:?}"),
    }
}

fn sip_user(uri: &Uri) -> Vec<u8> {
    uri.as_sip().unwrap().user_unescaped().unwrap().into_owned()
}

/// Serializing and re-parsing gives the same message.
fn round_trips(data: &[u8]) {
    let m = parse(data).unwrap();
    let again = parse(&m.to_bytes()).unwrap();
    assert_eq!(again, m);
}

// ---- 3.1.1 valid messages ----

#[test]
fn wsinv_short_tortuous_invite() {
    let r = req(msg!("wsinv"));
    assert_eq!(r.method, Method::Invite);
    assert_eq!(
        r.uri.to_string(),
        "sip:vivekg@chair-dnrc.example.com;unknownparam"
    );
    let h = &r.headers;
    let to = h.to().unwrap().unwrap();
    assert_eq!(to.tag(), Some("1918181833n"));
    assert_eq!(to.addr.display_name, None);
    let from = h.from().unwrap().unwrap();
    assert_eq!(from.addr.display_name.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(h.max_forwards().unwrap(), Some(MaxForwards(68)));
    assert_eq!(
        h.call_id().unwrap().unwrap().as_str(),
        "wsinv.ndaksdj@192.0.2.1"
    );
    assert_eq!(h.content_length().unwrap(), Some(ContentLength(150)));
    let cseq = h.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let vias = h.via().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].transport, Transport::Udp);
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[1].transport, Transport::Tcp);
    assert_eq!(vias[1].host, Host::Domain("spindle.example.com".into()));
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(h.get("Subject"), Some(""));
    assert_eq!(
        h.get("NewFangledHeader"),
        Some("newfangled value\r\n continued newfangled value")
    );
    assert_eq!(h.get("UnknownHeaderWithUnusualValue"), Some(";;,,;;,;"));
    let route = h.route().unwrap();
    assert_eq!(route.len(), 1);
    assert!(route[0].is_loose());
    let contact = &h.contact().unwrap()[0];
    assert_eq!(
        contact.addr.as_ref().unwrap().display_name.as_deref(),
        Some("Quoted string \"\"")
    );
    assert_eq!(contact.params.get("newparam"), Some(Some("newvalue")));
    assert!(contact.params.contains("secondparam"));
    assert_eq!(contact.q(), Some(330));
    assert_eq!(r.body.len(), 150);
    let sdp = sip_message::sdp::Sdp::parse(&r.body).unwrap();
    assert_eq!(sdp.media.len(), 2);
    // "a=rtpmap:31 LPC" lacks the clock rate: kept raw, not typed.
    assert_eq!(
        sdp.media[1].attribute("rtpmap").unwrap().value.as_deref(),
        Some("31 LPC")
    );
    assert_eq!(sdp.media[1].rtpmap(31), None);
    round_trips(msg!("wsinv"));
}

#[test]
fn intmeth_wide_range_of_valid_characters() {
    let r = req(msg!("intmeth"));
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(r.method, Method::Other(method.into()));
    let uri = r.uri.as_sip().unwrap();
    assert_eq!(
        uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    let h = &r.headers;
    assert_eq!(
        h.top_via().unwrap().unwrap().branch(),
        Some("z9hG4bK-.!%66*_+`'~")
    );
    let to = h.to().unwrap().unwrap();
    assert_eq!(
        to.addr.display_name.as_deref(),
        Some("BEL:\x07 NUL:\0 DEL:\x7f")
    );
    let from = h.from().unwrap().unwrap();
    assert_eq!(
        from.addr.display_name.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert!(from
        .params
        .get_unquoted("fromParam''~+*_!.-%")
        .unwrap()
        .starts_with('\u{0440}'));
    assert_eq!(
        h.call_id().unwrap().unwrap().as_str(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(h.cseq().unwrap().unwrap().method.as_str(), method);
    assert_eq!(h.max_forwards().unwrap(), Some(MaxForwards(255)));
    assert_eq!(
        h.get("extensionHeader-!.%*+_`'~"),
        Some("\u{FEFF}\u{5927}\u{505C}\u{96FB}")
    );
    round_trips(msg!("intmeth"));
}

#[test]
fn esc01_valid_percent_escaping() {
    let r = req(msg!("esc01"));
    assert_eq!(sip_user(&r.uri), b"sips:user@example.com");
    let h = &r.headers;
    assert_eq!(sip_user(h.to().unwrap().unwrap().uri()), b"user");
    assert_eq!(sip_user(h.from().unwrap().unwrap().uri()), b"I have spaces");
    let c = &h.contact().unwrap()[0];
    let u = c.addr.as_ref().unwrap().sip_uri().unwrap();
    assert_eq!(u.user_unescaped().unwrap().as_ref(), b"caller");
    assert_eq!(u.param("lr"), Some(None));
    assert_eq!(u.param("name").flatten().as_deref(), Some("value%41"));
    assert_eq!(h.content_type().unwrap().unwrap().0.subtype, "sdp");
}

#[test]
fn escnull_escaped_nulls() {
    let r = req(msg!("escnull"));
    let h = &r.headers;
    assert_eq!(sip_user(h.to().unwrap().unwrap().uri()), b"null-\0-null");
    let contacts = h.contact().unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(sip_user(&contacts[0].addr.as_ref().unwrap().uri), b"\0");
    assert_eq!(sip_user(&contacts[1].addr.as_ref().unwrap().uri), b"\0\0");
}

#[test]
fn esc02_percent_that_is_not_an_escape() {
    let r = req(msg!("esc02"));
    // '%' is a token character: the method is not REGISTER.
    assert_eq!(r.method, Method::Other("RE%47IST%45R".into()));
    let h = &r.headers;
    assert_eq!(
        h.to().unwrap().unwrap().addr.display_name.as_deref(),
        Some("%Z%45")
    );
    assert_eq!(
        h.top_via().unwrap().unwrap().branch(),
        Some("z9hG4bK209%fzsnel234")
    );
    // C%6Fntact is an unknown header, not a third Contact.
    assert_eq!(h.contact().unwrap().len(), 2);
    assert_eq!(h.get("C%6Fntact"), Some("<sip:alias2@host2.example.com>"));
}

#[test]
fn lwsdisp_no_lws_before_laquot() {
    let r = req(msg!("lwsdisp"));
    let from = r.headers.from().unwrap().unwrap();
    assert_eq!(from.addr.display_name.as_deref(), Some("caller"));
    assert_eq!(from.tag(), Some("323"));
}

#[test]
fn longreq_long_values() {
    let r = req(msg!("longreq"));
    let h = &r.headers;
    assert_eq!(h.via().unwrap().len(), 34);
    let to = h.to().unwrap().unwrap();
    assert!(to.addr.display_name.as_ref().unwrap().len() > 80);
    assert!(to.uri().to_string().len() > 200, "long URI parameters");
    assert!(h.from().unwrap().unwrap().tag().unwrap().len() > 100);
    assert!(h.call_id().unwrap().unwrap().as_str().len() > 100);
    let unknown = h
        .iter()
        .find(|f| f.name.starts_with("Unknown-LongLong"))
        .unwrap();
    assert_eq!(unknown.kind, HeaderName::Other);
    assert!(unknown.value.len() > 100);
    assert_eq!(r.body.len(), 150);
    round_trips(msg!("longreq"));
}

#[test]
fn dblreq_extra_octets_ignored() {
    let r = req(msg!("dblreq"));
    assert_eq!(r.method, Method::Register);
    assert!(r.body.is_empty(), "Content-Length: 0 bounds the body");
}

#[test]
fn semiuri_semicolons_in_user_part() {
    let r = req(msg!("semiuri"));
    let u = r.uri.as_sip().unwrap();
    assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
    assert!(u.params.is_empty());
    assert_eq!(u.host, Host::Domain("example.com".into()));
    assert_eq!(r.headers.typed_all::<Accept>().unwrap().len(), 6);
}

#[test]
fn transports_varied_and_unknown() {
    let r = req(msg!("transports"));
    let t: Vec<Transport> = r
        .headers
        .via()
        .unwrap()
        .into_iter()
        .map(|v| v.transport)
        .collect();
    assert_eq!(
        t,
        vec![
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN".into()),
            Transport::Tcp
        ]
    );
}

#[test]
fn mpart01_multipart_body() {
    let r = req(msg!("mpart01"));
    assert_eq!(r.method, Method::Message);
    let ct = r.headers.content_type().unwrap().unwrap();
    assert!(ct.0.is("multipart", "mixed"));
    assert_eq!(ct.0.param("boundary").as_deref(), Some("7a9cbec02ceef655"));
    assert_eq!(r.body.len(), 553, "binary body kept exactly");
    let mp = sip_message::body::Multipart::parse_with_type(&r.body, &ct).unwrap();
    assert_eq!(mp.parts.len(), 2);
    assert_eq!(mp.parts[0].body, b"Hello");
    assert!(mp.parts[1]
        .content_type()
        .unwrap()
        .unwrap()
        .0
        .is("application", "octet-stream"));
    assert!(mp.parts[1].body.starts_with(&[0x30, 0x82]));
    assert_eq!(
        sip_message::body::Multipart::parse(&mp.to_bytes(), &mp.boundary).unwrap(),
        mp
    );
    assert_eq!(r.headers.get("Content-Transfer-Encoding"), Some("binary"));
    assert!(r.headers.typed::<Date>().unwrap().is_some());
    round_trips(msg!("mpart01"));
}

#[test]
fn unreason_utf8_reason_phrase() {
    let r = resp(msg!("unreason"));
    assert_eq!(r.status.as_u16(), 200);
    assert!(r.reason.starts_with("= 2**3 * 5**2 \u{043d}\u{043e}"));
    assert!(r
        .reason
        .ends_with("\u{043f}\u{0440}\u{043e}\u{0441}\u{0442}\u{043e}\u{0435}"));
    round_trips(msg!("unreason"));
}

#[test]
fn noreason_empty_reason_phrase() {
    let r = resp(msg!("noreason"));
    assert_eq!(r.status.as_u16(), 100);
    assert_eq!(r.reason, "");
}

// ---- 3.1.2 invalid messages ----

fn header_error(data: &[u8]) -> (usize, HeaderError) {
    match parse(data) {
        Err(ParseError::Header { line, source }) => (line, source),
        other => panic!("expected a header error, got {other:?}"),
    }
}

#[test]
fn badinv01_extraneous_separators() {
    let (line, e) = header_error(msg!("badinv01"));
    assert_eq!(line, 7);
    assert_eq!(e.header(), "Via");
}

#[test]
fn clerr_content_length_larger_than_message() {
    // Content-Length is on line 10; the 154-byte body starts at byte 344.
    assert_eq!(
        parse(msg!("clerr")),
        Err(ParseError::BodyTooShort {
            line: 10,
            offset: 344,
            declared: 9999,
            available: 154
        })
    );
}

#[test]
fn ncl_negative_content_length() {
    let (line, e) = header_error(msg!("ncl"));
    assert_eq!(line, 10);
    assert!(matches!(
        e,
        HeaderError::Syntax {
            header: "Content-Length",
            ..
        }
    ));
}

#[test]
fn scalar02_overlarge_request_scalars() {
    let (line, e) = header_error(msg!("scalar02"));
    assert_eq!(line, 5);
    assert_eq!(
        e,
        HeaderError::OutOfRange {
            header: "CSeq",
            offset: 0
        }
    );
    // Max-Forwards 300 is also out of range on its own.
    assert!(matches!(
        MaxForwards::parse("300"),
        Err(HeaderError::OutOfRange { .. })
    ));
}

#[test]
fn scalarlg_overlarge_response_scalars() {
    let (_, e) = header_error(msg!("scalarlg"));
    assert_eq!(
        e,
        HeaderError::OutOfRange {
            header: "CSeq",
            offset: 0
        }
    );
}

#[test]
fn quotbal_unterminated_quote() {
    let (line, e) = header_error(msg!("quotbal"));
    assert_eq!(line, 2);
    assert!(matches!(
        e,
        HeaderError::Syntax {
            header: "To",
            expected: "closing quote",
            ..
        }
    ));
}

#[test]
fn ltgtruri_angle_brackets_around_request_uri() {
    assert!(matches!(
        parse(msg!("ltgtruri")),
        Err(ParseError::RequestUri {
            column: 8,
            source: UriError::Scheme
        })
    ));
}

#[test]
fn lwsruri_embedded_lws() {
    assert!(matches!(
        parse(msg!("lwsruri")),
        Err(ParseError::Syntax {
            line: 1,
            column: 29,
            ..
        })
    ));
}

#[test]
fn lwsstart_multiple_sp() {
    assert!(matches!(
        parse(msg!("lwsstart")),
        Err(ParseError::Syntax {
            line: 1,
            column: 8,
            ..
        })
    ));
}

#[test]
fn trws_trailing_sp() {
    assert!(matches!(
        parse(msg!("trws")),
        Err(ParseError::Syntax {
            line: 1,
            expected: "SIP version (no trailing whitespace)",
            ..
        })
    ));
}

#[test]
fn escruri_headers_in_request_uri() {
    assert!(matches!(
        parse(msg!("escruri")),
        Err(ParseError::RequestUriHeaders { column: 8 })
    ));
}

#[test]
fn baddate_non_gmt_time_zone() {
    // RFC 4475 §3.1.2.12 lets an element either reject this or ignore the
    // Date header. Parley parses the message (Date is not needed for
    // routing) and the typed Date accessor reports the bad zone.
    let r = req(msg!("baddate"));
    assert_eq!(
        r.headers.typed::<Date>().unwrap_err(),
        HeaderError::Syntax {
            header: "Date",
            offset: 26,
            expected: "time zone GMT"
        }
    );
}

#[test]
fn regbadct_name_addr_without_brackets() {
    let (line, e) = header_error(msg!("regbadct"));
    assert_eq!(line, 8);
    assert_eq!(e.header(), "Contact");
}

#[test]
fn badaspec_spaces_in_addr_spec() {
    let (line, e) = header_error(msg!("badaspec"));
    assert_eq!(line, 5);
    assert_eq!(e.header(), "To");
}

#[test]
fn baddn_non_token_display_name() {
    let (line, e) = header_error(msg!("baddn"));
    assert_eq!(line, 4);
    assert_eq!(e.header(), "From");
}

#[test]
fn badvers_unknown_version() {
    assert_eq!(
        parse(msg!("badvers")),
        Err(ParseError::Version {
            column: 34,
            version: "SIP/7.0".into()
        })
    );
}

#[test]
fn mismatch01_cseq_method_mismatch() {
    assert_eq!(
        parse(msg!("mismatch01")),
        Err(ParseError::CSeqMethodMismatch {
            line: 6,
            method: "OPTIONS".into(),
            cseq: "INVITE".into()
        })
    );
}

#[test]
fn mismatch02_unknown_method_cseq_mismatch() {
    assert!(matches!(
        parse(msg!("mismatch02")),
        Err(ParseError::CSeqMethodMismatch { line: 6, .. })
    ));
}

#[test]
fn bigcode_overlarge_status_code() {
    assert_eq!(
        parse(msg!("bigcode")),
        Err(ParseError::StatusCode {
            column: 9,
            code: "4294967301".into()
        })
    );
}

// ---- 3.2 transaction layer ----

#[test]
fn badbranch_magic_cookie_only() {
    let r = req(msg!("badbranch"));
    let via = r.headers.top_via().unwrap().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK"));
    assert!(
        !via.has_rfc3261_branch(),
        "a bare cookie is no transaction id"
    );
}

// ---- 3.3 application layer ----

#[test]
fn insuf_missing_required_headers() {
    let r = req(msg!("insuf"));
    let h = &r.headers;
    assert_eq!(h.call_id().unwrap(), None);
    assert_eq!(h.from().unwrap(), None);
    assert_eq!(h.to().unwrap(), None);
    assert_eq!(h.max_forwards().unwrap(), None);
    assert!(h.cseq().unwrap().is_some());
}

#[test]
fn unkscm_unknown_request_uri_scheme() {
    let r = req(msg!("unkscm"));
    assert!(
        matches!(&r.uri, Uri::Other(o) if o.scheme == "nobodyKnowsThisScheme" && o.rest == "totallyopaquecontent")
    );
}

#[test]
fn novelsc_known_but_atypical_scheme() {
    let r = req(msg!("novelsc"));
    assert_eq!(r.uri.scheme(), "soap.beep");
    assert_eq!(r.uri.to_string(), "soap.beep://192.0.2.103:3002");
}

#[test]
fn unksm2_unknown_schemes_in_headers() {
    let r = req(msg!("unksm2"));
    let h = &r.headers;
    assert_eq!(h.to().unwrap().unwrap().uri().scheme(), "isbn");
    assert_eq!(h.from().unwrap().unwrap().uri().scheme(), "http");
    assert_eq!(
        h.contact().unwrap()[0].addr.as_ref().unwrap().uri.scheme(),
        "name"
    );
}

#[test]
fn bext01_require_and_proxy_require() {
    let r = req(msg!("bext01"));
    let req_tags: Vec<String> = r
        .headers
        .typed_all::<Require>()
        .unwrap()
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(
        req_tags,
        vec!["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let proxy: Vec<String> = r
        .headers
        .typed_all::<ProxyRequire>()
        .unwrap()
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(
        proxy,
        vec!["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
}

#[test]
fn invut_unknown_content_type() {
    let r = req(msg!("invut"));
    let ct = r.headers.content_type().unwrap().unwrap();
    assert!(ct.0.is("application", "unknownformat"));
    assert_eq!(r.body.len(), 40);
}

#[test]
fn regaut01_unknown_authorization_scheme() {
    let r = req(msg!("regaut01"));
    let a = r.headers.typed::<Authorization>().unwrap().unwrap();
    assert_eq!(a.0.scheme, "NoOneKnowsThisScheme");
    assert!(!a.0.is_digest());
    assert_eq!(a.0.param("opaque-data").as_deref(), Some("here"));
}

#[test]
fn multi01_multiple_values_in_single_value_fields() {
    let r = req(msg!("multi01"));
    let h = &r.headers;
    assert_eq!(
        h.call_id().unwrap_err(),
        HeaderError::Multiple {
            header: "Call-ID",
            count: 2
        }
    );
    assert_eq!(
        h.cseq().unwrap_err(),
        HeaderError::Multiple {
            header: "CSeq",
            count: 2
        }
    );
    assert_eq!(
        h.from().unwrap_err(),
        HeaderError::Multiple {
            header: "From",
            count: 2
        }
    );
    assert_eq!(
        h.to().unwrap_err(),
        HeaderError::Multiple {
            header: "To",
            count: 2
        }
    );
    assert_eq!(
        h.max_forwards().unwrap_err(),
        HeaderError::Multiple {
            header: "Max-Forwards",
            count: 2
        }
    );
    assert_eq!(h.contact().unwrap().len(), 2, "Contact may repeat");
}

#[test]
fn mcl01_multiple_content_lengths() {
    let r = req(msg!("mcl01"));
    assert_eq!(
        r.headers.content_length().unwrap_err(),
        HeaderError::Multiple {
            header: "Content-Length",
            count: 2
        }
    );
    // With conflicting lengths the datagram's end bounds the body.
    assert!(r.body.starts_with(b"There's no way to know"));
}

#[test]
fn bcast_broadcast_via() {
    let r = resp(msg!("bcast"));
    let vias = r.headers.via().unwrap();
    assert_eq!(vias[1].host, Host::Ipv4("255.255.255.255".parse().unwrap()));
}

#[test]
fn zeromf_max_forwards_zero() {
    let r = req(msg!("zeromf"));
    assert_eq!(r.headers.max_forwards().unwrap(), Some(MaxForwards(0)));
}

#[test]
fn cparam01_contact_header_parameter() {
    let r = req(msg!("cparam01"));
    let c = &r.headers.contact().unwrap()[0];
    assert!(c.params.contains("unknownparam"));
    assert!(c
        .addr
        .as_ref()
        .unwrap()
        .sip_uri()
        .unwrap()
        .params
        .is_empty());
}

#[test]
fn cparam02_contact_url_parameter() {
    let r = req(msg!("cparam02"));
    let c = &r.headers.contact().unwrap()[0];
    assert!(c.params.is_empty());
    assert!(c
        .addr
        .as_ref()
        .unwrap()
        .sip_uri()
        .unwrap()
        .params
        .contains("unknownparam"));
}

#[test]
fn regescrt_escaped_header_in_contact() {
    let r = req(msg!("regescrt"));
    let c = &r.headers.contact().unwrap()[0];
    let u = c.addr.as_ref().unwrap().sip_uri().unwrap();
    assert_eq!(u.headers.len(), 1);
    assert_eq!(u.headers[0].0, "Route");
    assert_eq!(unescape(&u.headers[0].1).as_ref(), b"<sip:sip.example.com>");
}

#[test]
fn sdp01_unacceptable_accept() {
    let r = req(msg!("sdp01"));
    let a = r.headers.typed_all::<Accept>().unwrap();
    assert_eq!(a.len(), 1);
    assert!(a[0].0.is("text", "nobodyKnowsThis"));
    assert!(!a.iter().any(|a| a.0.is("application", "sdp")));
}

// ---- 3.4 backward compatibility ----

#[test]
fn inv2543_rfc2543_syntax() {
    let r = req(msg!("inv2543"));
    let h = &r.headers;
    let via = h.top_via().unwrap().unwrap();
    assert_eq!(via.branch(), None);
    assert!(!via.has_rfc3261_branch());
    assert_eq!(h.max_forwards().unwrap(), None);
    assert_eq!(h.to().unwrap().unwrap().tag(), None);
    assert_eq!(h.content_length().unwrap(), None);
    assert!(
        !r.body.is_empty(),
        "no Content-Length: the datagram bounds the body"
    );
    let rr = h.record_route().unwrap();
    assert_eq!(
        rr[0].addr.sip_uri().unwrap().params.get("maddr"),
        Some(Some("ss1.example.com"))
    );
}

// ---- every message: no panic, and accepted ones round-trip ----

#[test]
fn whole_corpus_classification() {
    let index = include_str!("data/rfc4475/INDEX.tsv");
    let files: &[(&str, &[u8])] = &[
        ("wsinv.dat", msg!("wsinv")),
        ("intmeth.dat", msg!("intmeth")),
        ("esc01.dat", msg!("esc01")),
        ("escnull.dat", msg!("escnull")),
        ("esc02.dat", msg!("esc02")),
        ("lwsdisp.dat", msg!("lwsdisp")),
        ("longreq.dat", msg!("longreq")),
        ("dblreq.dat", msg!("dblreq")),
        ("semiuri.dat", msg!("semiuri")),
        ("transports.dat", msg!("transports")),
        ("mpart01.dat", msg!("mpart01")),
        ("unreason.dat", msg!("unreason")),
        ("noreason.dat", msg!("noreason")),
        ("badinv01.dat", msg!("badinv01")),
        ("clerr.dat", msg!("clerr")),
        ("ncl.dat", msg!("ncl")),
        ("scalar02.dat", msg!("scalar02")),
        ("scalarlg.dat", msg!("scalarlg")),
        ("quotbal.dat", msg!("quotbal")),
        ("ltgtruri.dat", msg!("ltgtruri")),
        ("lwsruri.dat", msg!("lwsruri")),
        ("lwsstart.dat", msg!("lwsstart")),
        ("trws.dat", msg!("trws")),
        ("escruri.dat", msg!("escruri")),
        ("baddate.dat", msg!("baddate")),
        ("regbadct.dat", msg!("regbadct")),
        ("badaspec.dat", msg!("badaspec")),
        ("baddn.dat", msg!("baddn")),
        ("badvers.dat", msg!("badvers")),
        ("mismatch01.dat", msg!("mismatch01")),
        ("mismatch02.dat", msg!("mismatch02")),
        ("bigcode.dat", msg!("bigcode")),
        ("badbranch.dat", msg!("badbranch")),
        ("insuf.dat", msg!("insuf")),
        ("unkscm.dat", msg!("unkscm")),
        ("novelsc.dat", msg!("novelsc")),
        ("unksm2.dat", msg!("unksm2")),
        ("bext01.dat", msg!("bext01")),
        ("invut.dat", msg!("invut")),
        ("regaut01.dat", msg!("regaut01")),
        ("multi01.dat", msg!("multi01")),
        ("mcl01.dat", msg!("mcl01")),
        ("bcast.dat", msg!("bcast")),
        ("zeromf.dat", msg!("zeromf")),
        ("cparam01.dat", msg!("cparam01")),
        ("cparam02.dat", msg!("cparam02")),
        ("regescrt.dat", msg!("regescrt")),
        ("sdp01.dat", msg!("sdp01")),
        ("inv2543.dat", msg!("inv2543")),
    ];
    let mut seen = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, class) = (cols[0], cols[3]);
        let data = files.iter().find(|(f, _)| *f == file).unwrap().1;
        let res = parse(data);
        // parse == parse_lazy + validate, errors included.
        let lazy = sip_message::parse_lazy(data).and_then(|m| m.validate().map(|()| m));
        assert_eq!(lazy, res, "{file}: lazy + validate differs from parse");
        // baddate is the one invalid message accepted (documented above).
        let expect_ok = class != "invalid" || file == "baddate.dat";
        assert_eq!(res.is_ok(), expect_ok, "{file} ({class}): {res:?}");
        if let Ok(m) = res {
            assert_eq!(parse(&m.to_bytes()).unwrap(), m, "{file} round trip");
        } else {
            // Errors render as a message naming what and where.
            assert!(!res.unwrap_err().to_string().is_empty());
        }
        seen += 1;
    }
    assert_eq!(seen, 49);
}
