//! Property tests: parse(serialize(x)) == x for generated messages, URIs
//! and SDP, and no input makes the parsers panic.

use proptest::prelude::*;
use sip_message::headers::{
    CSeq, CallId, Contact, ContentLength, From, MaxForwards, To, TypedHeader, Via,
};
use sip_message::sdp::{Attribute, Connection, Media, Origin, Sdp, Timing};
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

fn message() -> impl Strategy<Value = Message> {
    (
        any::<bool>(),
        method(),
        uri(),
        100u16..700,
        "[ -~]{0,20}",
        prop::collection::vec(via(), 1..4),
        (name_addr(), header_params(), name_addr(), header_params()),
        (
            "[a-zA-Z0-9.-]{1,16}(@[a-z0-9.]{1,10})?",
            0u32..(1 << 31),
            any::<u8>(),
        ),
        prop::collection::vec((name_addr(), header_params()), 0..3),
        prop::collection::vec(("X-[a-zA-Z0-9-]{1,10}", "[!-~]([ -~]{0,20}[!-~])?"), 0..4),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(
                is_req,
                m,
                u,
                code,
                reason,
                vias,
                (fa, fp, ta, tp),
                (cid, seq, mf),
                contacts,
                extra,
                body,
            )| {
                let mut h = sip_message::Headers::new();
                for v in &vias {
                    h.push_typed(v);
                }
                h.push_typed(&From {
                    addr: fa,
                    params: fp,
                });
                h.push_typed(&To {
                    addr: ta,
                    params: tp,
                });
                h.push_typed(&CallId::parse(&cid).unwrap());
                h.push_typed(&CSeq {
                    seq,
                    method: m.clone(),
                });
                h.push_typed(&MaxForwards(mf));
                for (a, p) in contacts {
                    h.push_typed(&Contact {
                        addr: Some(a),
                        params: p,
                    });
                }
                for (n, v) in extra {
                    h.push(&n, &v).unwrap();
                }
                h.push_typed(&ContentLength(body.len() as u32));
                if is_req {
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
                }
            },
        )
}

fn sdp() -> impl Strategy<Value = Sdp> {
    let attr = ("[a-z][a-z0-9-]{0,10}", prop::option::of("[!-~][ -~]{0,15}"))
        .prop_map(|(n, v)| Attribute { name: n, value: v });
    let media = (
        prop_oneof![Just("audio"), Just("video"), Just("application")],
        any::<u16>(),
        prop_oneof![Just("RTP/AVP"), Just("RTP/SAVP"), Just("UDP/TLS/RTP/SAVPF")],
        prop::collection::vec(0u8..128, 1..5),
        prop::collection::vec(attr.clone(), 0..5),
    )
        .prop_map(|(m, port, proto, fmts, attributes)| Media {
            media: m.into(),
            port,
            num_ports: None,
            proto: proto.into(),
            formats: fmts.iter().map(u8::to_string).collect(),
            title: None,
            connections: vec![Connection {
                net_type: "IN".into(),
                addr_type: "IP4".into(),
                address: "192.0.2.1".into(),
            }],
            bandwidths: Vec::new(),
            key: None,
            attributes,
            unknown: Vec::new(),
        });
    (
        "[a-z-]{1,8}",
        any::<u32>(),
        any::<u64>(),
        "[!-~][ -~]{0,10}",
        prop::collection::vec(attr, 0..4),
        prop::collection::vec(media, 0..3),
    )
        .prop_map(|(user, id, ver, name, attributes, media)| {
            let mut s = Sdp::new(Origin {
                username: user,
                session_id: id.to_string(),
                session_version: ver,
                net_type: "IN".into(),
                addr_type: "IP4".into(),
                address: "host.example.com".into(),
            });
            s.session_name = name;
            s.timing = vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }];
            s.attributes = attributes;
            s.media = media;
            s
        })
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
    fn message_round_trip(m in message()) {
        let bytes = m.to_bytes();
        let back = parse(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        // Typed views survive too.
        let h = back.headers();
        prop_assert_eq!(h.via().unwrap(), m.headers().via().unwrap());
        prop_assert_eq!(h.from().unwrap(), m.headers().from().unwrap());
        prop_assert_eq!(h.contact().unwrap(), m.headers().contact().unwrap());
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn sdp_round_trip(s in sdp()) {
        let text = s.to_string();
        prop_assert_eq!(Sdp::parse(text.as_bytes()).unwrap(), s);
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
