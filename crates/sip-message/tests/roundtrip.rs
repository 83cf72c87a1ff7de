//! Property tests: parse(serialize(x)) == x for generated messages, URIs
//! and SDP, and no input makes the parsers panic.

use proptest::prelude::*;
use sip_message::headers::{
    CSeq, Contact, From, MaxForwards, RecordRoute, Route, To, TypedHeader, Via,
};
use sip_message::sdp::{
    Attribute, Bandwidth, Connection, Crypto, Direction, Fmtp, Media, Origin, RtpMap, Sdp,
    UnknownLine,
};
use sip_message::uri::{Host, SipUri, TelUri};
use sip_message::{parse, Message, Method, NameAddr, Params, Request, Response, StatusCode, Uri};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,11}"
}

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}[a-z0-9]"
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        prop::collection::vec(label(), 1..4).prop_map(|l| Host::Domain(l.join("."))),
        any::<[u8; 4]>().prop_map(|o| Host::Ipv4(o.into())),
        any::<[u16; 8]>().prop_map(|s| Host::Ipv6(s.into())),
    ]
}

/// URI parameter names/values: unreserved plus escapes.
fn uri_param_text() -> impl Strategy<Value = String> {
    "([a-zA-Z0-9_.!~*'()-]|%[0-9A-F]{2}){1,10}"
}

fn uri_params() -> impl Strategy<Value = Params> {
    prop::collection::vec((uri_param_text(), prop::option::of(uri_param_text())), 0..4).prop_map(
        |v| {
            let mut p = Params::new();
            for (n, val) in v {
                if !p.contains(&n) {
                    p.0.push(sip_message::Param::new(n, val));
                }
            }
            p
        },
    )
}

fn sip_uri() -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        prop::option::of("([a-zA-Z0-9_.!~*'()&=+$,;?/-]|%[0-9A-F]{2}){1,12}"),
        prop::option::of("[a-zA-Z0-9_.!~*'()&=+$,-]{0,8}"),
        host(),
        prop::option::of(any::<u16>()),
        uri_params(),
        prop::collection::vec(("[a-zA-Z][a-zA-Z0-9]{0,6}", "[a-zA-Z0-9:/?+$]{0,8}"), 0..3),
    )
        .prop_map(
            |(secure, user, password, host, port, params, headers)| SipUri {
                secure,
                password: user.as_ref().and(password),
                user,
                host,
                port,
                params,
                headers,
            },
        )
}

/// RFC 3966 numbers: global ones with digits and separators, local ones
/// with hex digits, `*`, `#` and the phone-context they require.
fn tel_uri() -> impl Strategy<Value = TelUri> {
    let number = prop_oneof![
        ("\\+[0-9][0-9.()-]{0,12}", Just(None)),
        (
            "[0-9A-Fa-f*#][0-9A-Fa-f*#.()-]{0,10}",
            prop_oneof![
                "[a-z][a-z0-9-]{0,6}(\\.[a-z]{2,4})?".prop_map(Some),
                "\\+[0-9][0-9.-]{0,6}".prop_map(Some),
            ]
        ),
    ];
    (
        number,
        prop::collection::vec(("[a-z][a-z-]{0,6}", "[a-z0-9+]{1,6}"), 0..2),
    )
        .prop_map(|((number, context), p)| {
            let mut params = Params::new();
            if let Some(c) = context {
                params.set("phone-context", Some(&c));
            }
            for (n, v) in p {
                if !params.contains(&n) && n != "phone-context" {
                    params.set(&n, Some(&v));
                }
            }
            TelUri { number, params }
        })
}

fn uri() -> impl Strategy<Value = Uri> {
    prop_oneof![
        4 => sip_uri().prop_map(Uri::Sip),
        1 => tel_uri().prop_map(Uri::Tel),
    ]
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (prop::option::of("[ -~]{0,12}|[a-zA-Zа-я ]{1,10}"), uri()).prop_map(|(d, u)| NameAddr {
        display_name: d,
        uri: u,
    })
}

fn header_params() -> impl Strategy<Value = Params> {
    // Names start with 'p' so they never hit q/expires/reg-id, whose values
    // Contact validates.
    prop::collection::vec(
        ("p[a-zA-Z0-9.!%*_+`'~-]{0,8}", prop::option::of(token())),
        0..3,
    )
    .prop_map(|v| {
        let mut p = Params::new();
        for (n, val) in v {
            if !p.contains(&n) {
                p.0.push(sip_message::Param::new(n, val));
            }
        }
        p
    })
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop_oneof![
            Just("UDP"),
            Just("TCP"),
            Just("TLS"),
            Just("WSS"),
            Just("XYZ")
        ],
        host(),
        prop::option::of(any::<u16>()),
        "z9hG4bK[a-zA-Z0-9]{1,12}",
    )
        .prop_map(|(t, h, p, b)| Via::new(sip_message::headers::Transport::from_token(t), h, p, &b))
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Register),
        Just(Method::Notify),
        "[A-Z][A-Z0-9-]{0,8}".prop_map(|m| Method::parse(&m).unwrap()),
    ]
}

/// How a list header's values go on the wire.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// One header line per value.
    Repeated,
    /// All values on one line, joined with this separator (commas with
    /// optional whitespace or a folded line break).
    Joined(&'static str),
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Repeated),
        Just(Layout::Joined(", ")),
        Just(Layout::Joined(",")),
        Just(Layout::Joined(" ,\t")),
        Just(Layout::Joined(",\r\n ")),
        Just(Layout::Joined("\r\n\t,\r\n  ")),
    ]
}

/// Pushes `values` under `name` in the given layout.
fn push_list<T: TypedHeader>(h: &mut sip_message::Headers, name: &str, values: &[T], l: Layout) {
    let texts: Vec<String> = values.iter().map(T::to_string).collect();
    match l {
        Layout::Repeated => {
            for t in &texts {
                h.push(name, t).unwrap();
            }
        }
        Layout::Joined(sep) if !texts.is_empty() => h.push(name, &texts.join(sep)).unwrap(),
        Layout::Joined(_) => {}
    }
}

/// Folds a printed address header between the address and its parameters
/// (where RFC 3261 allows linear white space), if `fold` is set.
fn maybe_fold(text: String, fold: bool) -> String {
    match (fold, text.rfind('>')) {
        (true, Some(i)) if text.get(i + 1..).is_some_and(|r| r.starts_with(';')) => {
            format!("{}\r\n {}", &text[..=i], &text[i + 1..])
        }
        _ => text,
    }
}

/// The typed values a generated message was built from, to compare with
/// what the parser reads back whatever the wire form.
#[derive(Debug, Clone)]
struct Expected {
    vias: Vec<Via>,
    from: From,
    to: To,
    contacts: Vec<Contact>,
    routes: Vec<Route>,
    record_routes: Vec<RecordRoute>,
}

fn sip_name_addr() -> impl Strategy<Value = NameAddr> {
    (prop::option::of("[a-zA-Z ]{1,10}"), sip_uri()).prop_map(|(d, mut u)| {
        // Route URIs in angle brackets may carry anything, but keep them
        // free of headers so Route and Record-Route stay comparable.
        u.headers.clear();
        NameAddr {
            display_name: d,
            uri: Uri::Sip(u),
        }
    })
}

fn message_with_expected() -> impl Strategy<Value = (Message, Expected)> {
    (
        (any::<bool>(), method(), uri(), 100u16..700, "[ -~]{0,20}"),
        (prop::collection::vec(via(), 1..4), layout(), any::<bool>()),
        (
            name_addr(),
            header_params(),
            name_addr(),
            header_params(),
            any::<[bool; 4]>(),
        ),
        (
            "[a-zA-Z0-9.-]{1,16}(@[a-z0-9.]{1,10})?",
            0u32..(1 << 31),
            any::<u8>(),
        ),
        (
            prop::collection::vec((name_addr(), header_params()), 0..3),
            layout(),
            any::<bool>(),
        ),
        (
            prop::collection::vec(sip_name_addr(), 0..3),
            layout(),
            prop::collection::vec(sip_name_addr(), 0..3),
            layout(),
        ),
        prop::collection::vec(("X-[a-zA-Z0-9-]{1,10}", "[!-~]([ -~]{0,20}[!-~])?"), 0..4),
        (prop::collection::vec(any::<u8>(), 0..64), any::<bool>()),
    )
        .prop_map(
            |(
                (is_req, m, u, code, reason),
                (vias, via_layout, via_compact),
                (fa, fp, ta, tp, [f_compact, f_fold, t_compact, t_fold]),
                (cid, seq, mf),
                (contacts, contact_layout, contact_compact),
                (routes, route_layout, rroutes, rroute_layout),
                extra,
                (body, l_compact),
            )| {
                let name = |compact: bool, long: &'static str, short: &'static str| {
                    if compact {
                        short
                    } else {
                        long
                    }
                };
                let from = From {
                    addr: fa,
                    params: fp,
                };
                let to = To {
                    addr: ta,
                    params: tp,
                };
                let contacts: Vec<Contact> = contacts
                    .into_iter()
                    .map(|(a, p)| Contact {
                        addr: Some(a),
                        params: p,
                    })
                    .collect();
                let routes: Vec<Route> = routes.into_iter().map(Route::new).collect();
                let rroutes: Vec<RecordRoute> = rroutes.into_iter().map(RecordRoute::new).collect();
                let mut h = sip_message::Headers::new();
                push_list(&mut h, name(via_compact, "Via", "v"), &vias, via_layout);
                h.push(
                    name(f_compact, "From", "f"),
                    &maybe_fold(from.to_string(), f_fold),
                )
                .unwrap();
                h.push(
                    name(t_compact, "To", "t"),
                    &maybe_fold(to.to_string(), t_fold),
                )
                .unwrap();
                h.push(name(via_compact, "Call-ID", "i"), &cid).unwrap();
                h.push_typed(&CSeq {
                    seq,
                    method: m.clone(),
                });
                h.push_typed(&MaxForwards(mf));
                push_list(&mut h, "Route", &routes, route_layout);
                push_list(&mut h, "Record-Route", &rroutes, rroute_layout);
                push_list(
                    &mut h,
                    name(contact_compact, "Contact", "m"),
                    &contacts,
                    contact_layout,
                );
                for (n, v) in extra {
                    h.push(&n, &v).unwrap();
                }
                h.push(
                    name(l_compact, "Content-Length", "l"),
                    &body.len().to_string(),
                )
                .unwrap();
                let expected = Expected {
                    vias,
                    from,
                    to,
                    contacts,
                    routes,
                    record_routes: rroutes,
                };
                let msg = if is_req {
                    // A Request-URI may not carry headers.
                    let mut u = u;
                    if let Uri::Sip(s) = &mut u {
                        s.headers.clear();
                    }
                    Message::Request(Request {
                        method: m,
                        uri: u,
                        headers: h,
                        body,
                    })
                } else {
                    Message::Response(Response {
                        status: StatusCode::new(code).unwrap(),
                        reason,
                        headers: h,
                        body,
                    })
                };
                (msg, expected)
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    message_with_expected().prop_map(|(m, _)| m)
}

fn connection() -> impl Strategy<Value = Connection> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| ("IP4", std::net::Ipv4Addr::from(o).to_string())),
        any::<[u16; 8]>().prop_map(|s| ("IP6", std::net::Ipv6Addr::from(s).to_string())),
        label().prop_map(|l| ("IP4", format!("{l}.example.com"))),
    ]
    .prop_map(|(t, a)| Connection {
        net_type: "IN".into(),
        addr_type: t.into(),
        address: a,
    })
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    (
        prop_oneof![Just("AS"), Just("CT"), Just("TIAS"), Just("X-YZ")],
        any::<u64>(),
    )
        .prop_map(|(t, v)| Bandwidth {
            bwtype: t.into(),
            value: v,
        })
}

fn rtpmap() -> impl Strategy<Value = RtpMap> {
    (
        0u8..128,
        "[a-zA-Z][a-zA-Z0-9-]{0,10}",
        any::<u32>(),
        prop::option::of(any::<u16>()),
    )
        .prop_map(|(pt, enc, clock, ch)| RtpMap {
            payload_type: pt,
            encoding: enc,
            clock_rate: clock,
            channels: ch,
        })
}

fn crypto() -> impl Strategy<Value = Crypto> {
    (
        1u32..1_000_000_000,
        prop_oneof![
            Just("AES_CM_128_HMAC_SHA1_80"),
            Just("AES_CM_128_HMAC_SHA1_32"),
            Just("AEAD_AES_256_GCM")
        ],
        prop::collection::vec("inline:[A-Za-z0-9+/]{8,40}(\\|2\\^20)?(\\|1:4)?", 1..3),
        prop::collection::vec(
            prop_oneof![
                Just("UNENCRYPTED_SRTP".to_owned()),
                "KDR=[0-9]{1,2}".prop_map(|s| s)
            ],
            0..3,
        ),
    )
        .prop_map(|(tag, suite, keys, sess)| Crypto {
            tag,
            suite: suite.into(),
            key_params: keys,
            session_params: sess,
        })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive),
    ]
}

/// Typed attributes of one media section, plus the views they should give.
#[derive(Debug, Clone)]
struct TypedAttrs {
    rtpmaps: Vec<RtpMap>,
    fmtps: Vec<Fmtp>,
    crypto: Vec<Crypto>,
    direction: Option<Direction>,
}

fn typed_attrs() -> impl Strategy<Value = TypedAttrs> {
    (
        prop::collection::vec(rtpmap(), 0..4),
        prop::collection::vec(
            "[a-z-]{1,8}=[0-9a-z]{1,5}(;[a-z-]{1,8}=[0-9]{1,3}){0,2}",
            0..4,
        ),
        prop::collection::vec(crypto(), 0..3),
        prop::option::of(direction()),
    )
        .prop_map(|(maps, params, crypto, direction)| {
            // One rtpmap per payload type, each fmtp tied to one of them.
            let mut rtpmaps: Vec<RtpMap> = Vec::new();
            for m in maps {
                if rtpmaps.iter().all(|x| x.payload_type != m.payload_type) {
                    rtpmaps.push(m);
                }
            }
            let fmtps = rtpmaps
                .iter()
                .zip(params)
                .map(|(m, p)| Fmtp {
                    format: m.payload_type.to_string(),
                    params: p,
                })
                .collect();
            TypedAttrs {
                rtpmaps,
                fmtps,
                crypto,
                direction,
            }
        })
}

fn attribute() -> impl Strategy<Value = Attribute> {
    // Names avoid the typed attributes so the views see only generated ones.
    ("x[a-z0-9-]{0,10}", prop::option::of("[!-~][ -~]{0,15}"))
        .prop_map(|(n, v)| Attribute { name: n, value: v })
}

fn sdp_with_expected() -> impl Strategy<Value = (Sdp, Vec<TypedAttrs>)> {
    let media = (
        prop_oneof![Just("audio"), Just("video"), Just("application")],
        any::<u16>(),
        prop_oneof![Just("RTP/AVP"), Just("RTP/SAVP"), Just("UDP/TLS/RTP/SAVPF")],
        prop::collection::vec(0u8..128, 1..5),
        prop::collection::vec(attribute(), 0..3),
        typed_attrs(),
        (
            prop::collection::vec(connection(), 0..2),
            prop::collection::vec(bandwidth(), 0..2),
        ),
    )
        .prop_map(
            |(m, port, proto, fmts, mut attributes, typed, (connections, bandwidths))| {
                for r in &typed.rtpmaps {
                    attributes.push(Attribute::value("rtpmap", &r.to_string()));
                }
                for f in &typed.fmtps {
                    attributes.push(Attribute::value(
                        "fmtp",
                        &format!("{} {}", f.format, f.params),
                    ));
                }
                for c in &typed.crypto {
                    attributes.push(Attribute::value("crypto", &c.to_string()));
                }
                if let Some(d) = typed.direction {
                    attributes.push(Attribute::flag(d.as_str()));
                }
                let media = Media {
                    media: m.into(),
                    port,
                    num_ports: None,
                    proto: proto.into(),
                    formats: fmts.iter().map(u8::to_string).collect(),
                    title: None,
                    connections,
                    bandwidths,
                    key: None,
                    attributes,
                    unknown: Vec::new(),
                };
                (media, typed)
            },
        );
    (
        (
            "[a-z-]{1,8}",
            any::<u32>(),
            any::<u64>(),
            "[!-~][ -~]{0,10}",
        ),
        (
            prop::option::of(connection()),
            prop::collection::vec(bandwidth(), 0..3),
            prop::collection::vec(attribute(), 0..4),
            prop::option::of(direction()),
        ),
        prop::collection::vec(
            (any::<prop::sample::Index>(), "[dfghjlnqwxy]=[ -~]{0,10}"),
            0..3,
        ),
        prop::collection::vec(media, 0..3),
    )
        .prop_map(
            |((user, id, ver, name), (conn, bws, mut attributes, dir), unknown, media)| {
                let mut s = Sdp::new(Origin {
                    username: user,
                    session_id: id.to_string(),
                    session_version: ver,
                    net_type: "IN".into(),
                    addr_type: "IP4".into(),
                    address: "host.example.com".into(),
                });
                s.session_name = name;
                s.connection = conn;
                s.bandwidths = bws;
                if let Some(d) = dir {
                    attributes.push(Attribute::flag(d.as_str()));
                }
                s.attributes = attributes;
                // Known session lines after s=: c, b, t and a; unknown lines
                // go anywhere among them, in order.
                let known = usize::from(s.connection.is_some())
                    + s.bandwidths.len()
                    + s.timing.len()
                    + s.attributes.len();
                let mut unknown: Vec<UnknownLine> = unknown
                    .into_iter()
                    .map(|(i, text)| UnknownLine {
                        after: i.index(known + 1),
                        text,
                    })
                    .collect();
                unknown.sort_by_key(|u| u.after);
                s.unknown = unknown;
                let (media, typed): (Vec<Media>, Vec<TypedAttrs>) = media.into_iter().unzip();
                s.media = media;
                (s, typed)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn uri_round_trip(u in uri()) {
        let text = u.to_string();
        let back = Uri::parse(&text).unwrap();
        prop_assert_eq!(&back, &u);
        prop_assert!(back.equivalent(&u));
    }

    #[test]
    fn message_round_trip((m, want) in message_with_expected()) {
        let bytes = m.to_bytes();
        let back = parse(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_bytes(), bytes);
        // Whatever the wire form (compact names, folds, one line per value
        // or comma-joined), the typed views read the generated values.
        let h = back.headers();
        prop_assert_eq!(h.via().unwrap(), want.vias);
        prop_assert_eq!(h.from().unwrap(), Some(want.from));
        prop_assert_eq!(h.to().unwrap(), Some(want.to));
        prop_assert_eq!(h.contact().unwrap(), want.contacts);
        prop_assert_eq!(h.route().unwrap(), want.routes);
        prop_assert_eq!(h.record_route().unwrap(), want.record_routes);
        prop_assert_eq!(
            h.content_length().unwrap().map(|c| c.0 as usize),
            Some(back.body().len())
        );
    }

    #[test]
    fn sdp_round_trip((s, typed) in sdp_with_expected()) {
        let text = s.to_string();
        let back = Sdp::parse_strict(text.as_bytes()).unwrap();
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(back.to_string(), text);
        // The typed views read back exactly the generated attributes.
        for (m, t) in back.media.iter().zip(&typed) {
            prop_assert_eq!(&m.rtpmaps(), &t.rtpmaps);
            for f in &t.fmtps {
                let pt: u8 = f.format.parse().unwrap();
                prop_assert_eq!(m.fmtp(pt), Some(f.clone()));
            }
            prop_assert_eq!(&m.crypto(), &t.crypto);
            let want = t.direction.unwrap_or_else(|| back.direction());
            prop_assert_eq!(m.direction(&back), want);
        }
    }

    #[test]
    fn parsers_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&data);
        let _ = Sdp::parse(&data);
        let _ = sip_message::body::SipFrag::parse(&data);
        let _ = sip_message::body::Multipart::parse(&data, "b");
        if let Ok(s) = std::str::from_utf8(&data) {
            let _ = Uri::parse(s);
            let _ = Via::parse(s);
            let _ = Contact::parse(s);
            let _ = sip_message::headers::Date::parse(s);
            let _ = sip_message::headers::Authorization::parse(s);
        }
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), pos in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = m.to_bytes();
        let i = pos % bytes.len();
        bytes[i] = byte;
        if let Ok(back) = parse(&bytes) {
            // Whatever parses must serialize and re-parse to itself.
            prop_assert_eq!(parse(&back.to_bytes()).unwrap(), back);
        }
    }
}
