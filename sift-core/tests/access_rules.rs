//! `sift_allow` / `sift_deny` operands: what parses, to what, and which
//! clients each rule matches.

use std::net::IpAddr;

use sift_core::access::{parse_address_rule, AddressRule, AddressRuleError, IpNet, Parsed};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn rule(text: &str) -> AddressRule {
    parse_address_rule(text).unwrap().rule
}

fn net(text: &str) -> IpNet {
    match rule(text) {
        AddressRule::Net(net) => net,
        other => panic!("{text}: not a network: {other:?}"),
    }
}

#[test]
fn signatures_are_the_agreed_ones() {
    let _: fn(&str) -> Result<Parsed, AddressRuleError> = parse_address_rule;
    let _: fn(&AddressRule, Option<IpAddr>) -> bool = AddressRule::matches;
    let _: fn(&IpNet) -> IpAddr = IpNet::addr;
    let _: fn(&IpNet) -> u8 = IpNet::prefix_len;
    let _: fn(&IpNet, IpAddr) -> bool = IpNet::contains;
}

#[test]
fn keywords() {
    assert_eq!(
        parse_address_rule("all"),
        Ok(Parsed {
            rule: AddressRule::All,
            host_bits_set: false
        })
    );
    assert_eq!(
        parse_address_rule("unix:"),
        Ok(Parsed {
            rule: AddressRule::Unix,
            host_bits_set: false
        })
    );
    for bad in [
        "ALL",
        "All",
        "all ",
        " all",
        "unix",
        "UNIX:",
        "unix:/tmp/s",
        "any",
        "*",
    ] {
        assert_eq!(
            parse_address_rule(bad),
            Err(AddressRuleError::InvalidAddress),
            "{bad:?}"
        );
    }
}

#[test]
fn bare_addresses_are_host_networks() {
    for (text, addr, len) in [
        ("192.0.2.1", "192.0.2.1", 32),
        ("0.0.0.0", "0.0.0.0", 32),
        ("255.255.255.255", "255.255.255.255", 32),
        ("::1", "::1", 128),
        ("::", "::", 128),
        ("2001:db8::1", "2001:db8::1", 128),
        ("2001:DB8::A", "2001:db8::a", 128),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1", 128),
        ("::ffff:c000:201", "::ffff:192.0.2.1", 128),
    ] {
        let parsed = parse_address_rule(text).unwrap();
        assert!(!parsed.host_bits_set, "{text}");
        let AddressRule::Net(net) = parsed.rule else {
            panic!("{text}")
        };
        assert_eq!(net.addr(), ip(addr), "{text}");
        assert_eq!(net.prefix_len(), len, "{text}");
    }
}

#[test]
fn networks() {
    let n = net("192.0.2.0/24");
    assert_eq!((n.addr(), n.prefix_len()), (ip("192.0.2.0"), 24));
    let n = net("2001:db8::/32");
    assert_eq!((n.addr(), n.prefix_len()), (ip("2001:db8::"), 32));
    let n = net("::ffff:0:0/96");
    assert_eq!((n.addr(), n.prefix_len()), (ip("::ffff:0.0.0.0"), 96));
    let n = net("10.0.0.0/008");
    assert_eq!(n.prefix_len(), 8, "leading zeros, as ngx_atoi reads them");
}

#[test]
fn prefix_bounds() {
    for len in 0..=32u8 {
        let text = format!("0.0.0.0/{len}");
        assert_eq!(net(&text).prefix_len(), len, "{text}");
    }
    for len in 0..=128u8 {
        let text = format!("::/{len}");
        assert_eq!(net(&text).prefix_len(), len, "{text}");
    }
    for text in [
        "0.0.0.0/33",
        "10.0.0.0/64",
        "10.0.0.0/256",
        "10.0.0.0/4294967296",
    ] {
        assert_eq!(
            parse_address_rule(text),
            Err(AddressRuleError::PrefixLengthTooLong { max: 32 }),
            "{text}"
        );
    }
    for text in ["::/129", "::1/200", "::/99999999999999999999"] {
        assert_eq!(
            parse_address_rule(text),
            Err(AddressRuleError::PrefixLengthTooLong { max: 128 }),
            "{text}"
        );
    }
}

#[test]
fn host_bits_are_cleared_and_reported() {
    for (text, addr, len) in [
        ("10.0.0.1/8", "10.0.0.0", 8),
        ("192.0.2.255/25", "192.0.2.128", 25),
        ("255.255.255.255/0", "0.0.0.0", 0),
        ("2001:db8::1/32", "2001:db8::", 32),
        ("::1/127", "::", 127),
        ("::ffff:192.0.2.1/120", "::ffff:192.0.2.0", 120),
        ("ffff::/0", "::", 0),
    ] {
        let parsed = parse_address_rule(text).unwrap();
        assert!(parsed.host_bits_set, "{text}");
        let AddressRule::Net(n) = parsed.rule else {
            panic!("{text}")
        };
        assert_eq!((n.addr(), n.prefix_len()), (ip(addr), len), "{text}");
    }
    for text in [
        "10.0.0.0/8",
        "192.0.2.128/25",
        "0.0.0.0/0",
        "2001:db8::/32",
        "::/0",
        "::1/128",
    ] {
        assert!(!parse_address_rule(text).unwrap().host_bits_set, "{text}");
    }
}

#[test]
fn invalid_text() {
    for text in [
        "",
        "/",
        "/24",
        "192.0.2",
        "192.0.2.1.5",
        "192.0.2.256",
        "010.0.0.1",
        "1..2.3",
        "192.0.2.1 ",
        " 192.0.2.1",
        "192.0.2.1:80",
        "[::1]",
        "fe80::1%eth0",
        "2001:db8:::1",
        "12345::",
        "localhost",
        "unix:/24",
        "all/0",
    ] {
        assert_eq!(
            parse_address_rule(text),
            Err(AddressRuleError::InvalidAddress),
            "{text:?}"
        );
    }
    for text in [
        "192.0.2.0/",
        "192.0.2.0/x",
        "192.0.2.0/+8",
        "192.0.2.0/-1",
        "::/ 8",
        "::/8/8",
    ] {
        assert_eq!(
            parse_address_rule(text),
            Err(AddressRuleError::InvalidPrefixLength),
            "{text:?}"
        );
    }
}

#[test]
fn error_phrases() {
    assert_eq!(
        AddressRuleError::InvalidAddress.to_string(),
        "invalid address"
    );
    assert_eq!(
        AddressRuleError::InvalidPrefixLength.to_string(),
        "invalid prefix length"
    );
    assert_eq!(
        AddressRuleError::PrefixLengthTooLong { max: 32 }.to_string(),
        "prefix length is longer than 32"
    );
}

#[test]
fn display_round_trips() {
    for (text, shown) in [
        ("all", "all"),
        ("unix:", "unix:"),
        ("192.0.2.1", "192.0.2.1/32"),
        ("10.0.0.1/8", "10.0.0.0/8"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1/128"),
    ] {
        let r = rule(text);
        assert_eq!(r.to_string(), shown);
        assert_eq!(rule(shown), r);
    }
}

#[test]
fn ipnet_new() {
    let n = IpNet::new(ip("10.1.2.3"), 16).unwrap();
    assert_eq!(n, net("10.1.0.0/16"));
    assert_eq!(IpNet::new(ip("10.1.2.3"), 33), None);
    assert_eq!(IpNet::new(ip("::1"), 128), Some(net("::1")));
    assert_eq!(IpNet::new(ip("::1"), 129), None);
}

#[test]
fn all_matches_everything() {
    let all = rule("all");
    for client in [
        None,
        Some(ip("192.0.2.1")),
        Some(ip("::1")),
        Some(ip("::ffff:1.2.3.4")),
    ] {
        assert!(all.matches(client), "{client:?}");
    }
}

#[test]
fn unix_matches_only_unix_clients() {
    let unix = rule("unix:");
    assert!(unix.matches(None));
    for client in ["0.0.0.0", "127.0.0.1", "::", "::1", "::ffff:127.0.0.1"] {
        assert!(!unix.matches(Some(ip(client))), "{client}");
    }
    for text in ["0.0.0.0/0", "::/0", "127.0.0.1", "::1"] {
        assert!(
            !rule(text).matches(None),
            "{text} must not match unix clients"
        );
    }
}

#[test]
fn ipv4_rules() {
    let r = rule("192.0.2.0/24");
    for (client, hit) in [
        ("192.0.2.0", true),
        ("192.0.2.1", true),
        ("192.0.2.255", true),
        ("192.0.1.255", false),
        ("192.0.3.0", false),
        ("10.0.0.1", false),
        // Mapped clients match by their IPv4 address, as in nginx.
        ("::ffff:192.0.2.9", true),
        ("::ffff:192.0.3.9", false),
        // Other embeddings are not mapped addresses.
        ("::192.0.2.9", false),
        ("64:ff9b::192.0.2.9", false),
        ("2002:c000:0209::", false),
        ("::1", false),
    ] {
        assert_eq!(r.matches(Some(ip(client))), hit, "{client}");
    }
    let host = rule("192.0.2.1");
    assert!(host.matches(Some(ip("192.0.2.1"))));
    assert!(host.matches(Some(ip("::ffff:192.0.2.1"))));
    assert!(!host.matches(Some(ip("192.0.2.2"))));
}

#[test]
fn ipv6_rules() {
    let r = rule("2001:db8::/32");
    for (client, hit) in [
        ("2001:db8::", true),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2001:db9::", false),
        ("2001:db7:ffff::", false),
        ("::ffff:32.1.13.184", false),
        ("32.1.13.184", false),
    ] {
        assert_eq!(r.matches(Some(ip(client))), hit, "{client}");
    }
    let lo = rule("::1");
    assert!(lo.matches(Some(ip("::1"))));
    assert!(!lo.matches(Some(ip("::2"))));
    assert!(!lo.matches(Some(ip("127.0.0.1"))));
    assert!(!lo.matches(Some(ip("0.0.0.1"))));
}

#[test]
fn mapped_ipv6_rules() {
    // Written in IPv6 form, they match mapped clients (all 128 bits
    // compared), never plain IPv4 clients.
    let mapped = rule("::ffff:0:0/96");
    assert!(mapped.matches(Some(ip("::ffff:192.0.2.1"))));
    assert!(mapped.matches(Some(ip("::ffff:0.0.0.0"))));
    assert!(!mapped.matches(Some(ip("192.0.2.1"))));
    assert!(!mapped.matches(Some(ip("::192.0.2.1"))));
    assert!(!mapped.matches(Some(ip("::1"))));
    let one = rule("::ffff:192.0.2.1");
    assert!(one.matches(Some(ip("::ffff:192.0.2.1"))));
    assert!(!one.matches(Some(ip("::ffff:192.0.2.2"))));
    assert!(!one.matches(Some(ip("192.0.2.1"))));
    let sub = rule("::ffff:10.0.0.0/104");
    assert!(sub.matches(Some(ip("::ffff:10.200.0.1"))));
    assert!(!sub.matches(Some(ip("::ffff:11.0.0.1"))));
}

#[test]
fn zero_prefix() {
    let any4 = rule("0.0.0.0/0");
    for client in [
        "0.0.0.0",
        "255.255.255.255",
        "192.0.2.1",
        "::ffff:192.0.2.1",
    ] {
        assert!(any4.matches(Some(ip(client))), "{client}");
    }
    assert!(!any4.matches(Some(ip("::1"))));
    assert!(!any4.matches(Some(ip("2001:db8::1"))));
    assert!(!any4.matches(None));

    let any6 = rule("::/0");
    for client in ["::", "::1", "ffff::", "::ffff:192.0.2.1"] {
        assert!(any6.matches(Some(ip(client))), "{client}");
    }
    assert!(!any6.matches(Some(ip("192.0.2.1"))));
    assert!(!any6.matches(None));
}

#[test]
fn first_match_decides() {
    let rules: Vec<(bool, AddressRule)> = [
        (false, "192.0.2.1"),
        (true, "192.0.2.0/24"),
        (true, "2001:db8::/32"),
        (true, "unix:"),
        (false, "all"),
    ]
    .into_iter()
    .map(|(allow, text)| (allow, rule(text)))
    .collect();
    let allowed = |client: Option<IpAddr>| {
        rules
            .iter()
            .find(|(_, r)| r.matches(client))
            .is_some_and(|(allow, _)| *allow)
    };
    assert!(!allowed(Some(ip("192.0.2.1"))));
    assert!(!allowed(Some(ip("::ffff:192.0.2.1"))));
    assert!(allowed(Some(ip("192.0.2.2"))));
    assert!(allowed(Some(ip("::ffff:192.0.2.2"))));
    assert!(allowed(Some(ip("2001:db8::5"))));
    assert!(allowed(None));
    assert!(!allowed(Some(ip("198.51.100.1"))));
    assert!(!allowed(Some(ip("::1"))));
}

#[test]
fn exhaustive_v4_prefix_membership() {
    // For every prefix length, the boundaries of the network around one
    // address are in, and the addresses just outside are not.
    let base = u32::from_be_bytes([172, 16, 99, 77]);
    for len in 0..=32u32 {
        let r = rule(&format!("{}/{len}", std::net::Ipv4Addr::from(base)));
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let first = base & mask;
        let last = first | !mask;
        assert!(r.matches(Some(IpAddr::from(std::net::Ipv4Addr::from(first)))));
        assert!(r.matches(Some(IpAddr::from(std::net::Ipv4Addr::from(last)))));
        if let Some(before) = first.checked_sub(1) {
            assert!(
                !r.matches(Some(IpAddr::from(std::net::Ipv4Addr::from(before)))),
                "/{len}"
            );
        }
        if let Some(after) = last.checked_add(1) {
            assert!(
                !r.matches(Some(IpAddr::from(std::net::Ipv4Addr::from(after)))),
                "/{len}"
            );
        }
    }
}
