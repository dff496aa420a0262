//! Which findings a report shows: `--host`, `--port`, `--category`, `--code`,
//! `--min-confidence` and a time window (`--since`, `--until`). A finding is shown when it passes every filter given;
//! within one filter, any of the values given matches.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::UNIX_EPOCH;

use thiserror::Error;

use crate::diagnose::{Category, Cause, Confidence, Finding};

/// A filter value that could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterError {
    #[error("`{0}` is not an address, a CIDR block or a host name")]
    Host(String),
    #[error(
        "`{0}` is not a time: give RFC 3339 (2026-11-22T10:00:00Z) or an offset into the capture (+90s, +2m)"
    )]
    Time(String),
    #[error("`{0}` is not a cause code or a category: {1}")]
    Code(String, String),
}

/// What `--code` (and `--fail-on`) names: one cause by its code (`tls.certificate_expired`,
/// `tls.alert_bad_certificate`) or a whole category (`tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseMatch {
    Category(Category),
    Code(Cause),
}

impl FromStr for CauseMatch {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let given = s.trim();
        if let Ok(category) = given.parse::<Category>() {
            return Ok(CauseMatch::Category(category));
        }
        if let Some(cause) = Cause::from_code(&given.to_ascii_lowercase()) {
            return Ok(CauseMatch::Code(cause));
        }
        Err(FilterError::Code(s.into(), code_hint(given)))
    }
}

impl CauseMatch {
    /// Whether the finding has this cause, or a cause of this category.
    pub fn matches(&self, f: &Finding) -> bool {
        match self {
            CauseMatch::Category(category) => f.category == *category,
            CauseMatch::Code(cause) => f.code == cause.code(),
        }
    }

    /// As the user would type it.
    pub fn as_str(&self) -> &'static str {
        match self {
            CauseMatch::Category(category) => category.as_str(),
            CauseMatch::Code(cause) => cause.code(),
        }
    }
}

/// How to find the right code for what was given: the codes of its category when the part
/// before the dot is one, else the categories; and where every code is described.
fn code_hint(given: &str) -> String {
    let listed = match given
        .split_once('.')
        .and_then(|(category, _)| category.parse::<Category>().ok())
    {
        Some(category) => {
            let codes: Vec<&str> = Cause::ALL
                .iter()
                .filter(|c| c.category() == category && !matches!(c, Cause::TlsAlert(_)))
                .map(|c| c.code())
                .collect();
            let alerts = match category {
                Category::Tls => {
                    ", tls.alert_<description> (any TLS alert, e.g. tls.alert_bad_certificate)"
                }
                _ => "",
            };
            format!(
                "the {} codes are {}{alerts}",
                category.as_str(),
                codes.join(", ")
            )
        }
        None => format!(
            "give a category ({}) or a code `<category>.<name>`",
            Category::ALL
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("{listed}; every code with its meaning is in docs/causes.md")
}

/// What `--host` matches: the call's client or server address, or one of its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// One address.
    Ip(IpAddr),
    /// An address block, e.g. `198.18.0.0/15`.
    Block { net: IpAddr, prefix: u8 },
    /// A DNS name, SNI or Host header: the name itself or any name under it
    /// (`example.com` matches `api.example.com`), ignoring case.
    Name(String),
}

impl FromStr for HostMatch {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(ip) = s.parse() {
            return Ok(HostMatch::Ip(ip));
        }
        if let Some((net, prefix)) = s.split_once('/') {
            let net: IpAddr = net.parse().map_err(|_| FilterError::Host(s.into()))?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            return match prefix.parse::<u8>() {
                Ok(prefix) if prefix <= max => Ok(HostMatch::Block { net, prefix }),
                _ => Err(FilterError::Host(s.into())),
            };
        }
        let name = s.trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if valid {
            Ok(HostMatch::Name(name))
        } else {
            Err(FilterError::Host(s.into()))
        }
    }
}

impl HostMatch {
    fn matches(&self, f: &Finding) -> bool {
        let ips = [f.client.ip, f.server.ip];
        match self {
            HostMatch::Ip(ip) => ips.contains(ip),
            HostMatch::Block { net, prefix } => ips.iter().any(|ip| in_block(*ip, *net, *prefix)),
            HostMatch::Name(want) => [&f.names.sni, &f.names.http_host, &f.names.dns]
                .into_iter()
                .flatten()
                .any(|name| name_matches(name, want)),
        }
    }
}

fn in_block(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (ip, net, bits) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let shift = bits - u32::from(prefix);
    shift >= 128 || (ip >> shift) == (net >> shift)
}

/// `name` (a Host header may carry a port) is `want` or a name under it.
fn name_matches(name: &str, want: &str) -> bool {
    let name = name.trim_end_matches('.');
    let name = match name.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => name,
    };
    let name = name.to_ascii_lowercase();
    name == want
        || name
            .strip_suffix(want)
            .is_some_and(|head| head.ends_with('.'))
}

/// One end of the time window: a moment, or an offset from the capture's first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    At(i64),
    AfterStart(i64),
}

impl FromStr for TimeBound {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FilterError::Time(s.into());
        if let Some(offset) = s.strip_prefix('+') {
            let d = humantime::parse_duration(offset).map_err(|_| bad())?;
            return i64::try_from(d.as_nanos())
                .map(TimeBound::AfterStart)
                .map_err(|_| bad());
        }
        let at = humantime::parse_rfc3339_weak(s).map_err(|_| bad())?;
        let ns = at.duration_since(UNIX_EPOCH).map_err(|_| bad())?.as_nanos();
        i64::try_from(ns).map(TimeBound::At).map_err(|_| bad())
    }
}

impl TimeBound {
    fn resolve(self, capture_start_ns: i64) -> i64 {
        match self {
            TimeBound::At(ns) => ns,
            TimeBound::AfterStart(ns) => capture_start_ns.saturating_add(ns),
        }
    }
}

/// The filters of one report; the default shows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub hosts: Vec<HostMatch>,
    pub ports: Vec<u16>,
    pub categories: Vec<Category>,
    /// `--code`: causes by code, or whole categories.
    pub codes: Vec<CauseMatch>,
    pub min_confidence: Option<Confidence>,
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
}

impl FindingFilter {
    /// No filter given: every finding is shown.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `f` is shown; offsets in the time window count from `capture_start_ns`.
    /// A call is in the window when any of its evidence is.
    pub fn matches(&self, f: &Finding, capture_start_ns: i64) -> bool {
        let first = f.evidence.first().map_or(i64::MIN, |e| e.ts_ns);
        let last = f.evidence.last().map_or(i64::MAX, |e| e.ts_ns);
        (self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(f)))
            && (self.ports.is_empty()
                || self.ports.contains(&f.client.port)
                || self.ports.contains(&f.server.port))
            && (self.categories.is_empty() || self.categories.contains(&f.category))
            && (self.codes.is_empty() || self.codes.iter().any(|c| c.matches(f)))
            && self.min_confidence.is_none_or(|min| f.confidence >= min)
            && self
                .since
                .is_none_or(|b| last >= b.resolve(capture_start_ns))
            && self
                .until
                .is_none_or(|b| first <= b.resolve(capture_start_ns))
    }

    /// The filters as a user would type them, for the report's header.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for h in &self.hosts {
            out.push(match h {
                HostMatch::Ip(ip) => format!("host {ip}"),
                HostMatch::Block { net, prefix } => format!("host {net}/{prefix}"),
                HostMatch::Name(n) => format!("host {n}"),
            });
        }
        out.extend(self.ports.iter().map(|p| format!("port {p}")));
        out.extend(
            self.categories
                .iter()
                .map(|c| format!("category {}", c.as_str())),
        );
        out.extend(self.codes.iter().map(|c| format!("code {}", c.as_str())));
        out.extend(self.min_confidence.map(|c| format!("confidence >= {c}")));
        for (word, bound) in [("since", self.since), ("until", self.until)] {
            out.extend(bound.map(|b| match b {
                TimeBound::At(ns) => format!("{word} {}", crate::timefmt::rfc3339(ns)),
                TimeBound::AfterStart(ns) => {
                    format!("{word} +{}", crate::timefmt::human_duration(ns))
                }
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_as_addresses_blocks_or_names() {
        assert_eq!(
            "198.18.0.1".parse(),
            Ok(HostMatch::Ip("198.18.0.1".parse().unwrap()))
        );
        assert!(matches!(
            "fd0f:a17::/32".parse(),
            Ok(HostMatch::Block { prefix: 32, .. })
        ));
        assert_eq!(
            "API.Lab.Test.".parse(),
            Ok(HostMatch::Name("api.lab.test".into()))
        );
        assert!("10.0.0.0/33".parse::<HostMatch>().is_err());
        assert!("a b".parse::<HostMatch>().is_err());
    }

    #[test]
    fn blocks_and_names_match_what_they_cover() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_block(v4("198.19.5.1"), v4("198.18.0.0"), 15));
        assert!(!in_block(v4("198.20.0.1"), v4("198.18.0.0"), 15));
        assert!(in_block(v4("10.1.2.3"), v4("0.0.0.0"), 0));
        assert!(!in_block(v4("fd0f::1"), v4("198.18.0.0"), 15));
        assert!(name_matches("api.example.com:8443", "example.com"));
        assert!(name_matches("Example.COM", "example.com"));
        assert!(!name_matches("badexample.com", "example.com"));
    }

    #[test]
    fn codes_parse_as_causes_or_categories() {
        assert_eq!(
            "tls.certificate_expired".parse(),
            Ok(CauseMatch::Code(Cause::CertificateExpired))
        );
        assert_eq!(
            "tls.alert_bad_certificate".parse(),
            Ok(CauseMatch::Code(Cause::TlsAlert(42)))
        );
        assert_eq!("server".parse(), Ok(CauseMatch::Category(Category::Server)));
        let Err(e) = "tls.certificate_expird".parse::<CauseMatch>() else {
            panic!("a misspelt code was accepted");
        };
        let message = e.to_string();
        assert!(message.contains("tls.certificate_expired"), "{message}");
        assert!(message.contains("docs/causes.md"), "{message}");
        let Err(e) = "nonsense".parse::<CauseMatch>() else {
            panic!("nonsense was accepted");
        };
        assert!(e.to_string().contains("firewall"), "{e}");
    }

    #[test]
    fn time_bounds_are_moments_or_offsets() {
        assert_eq!("+90s".parse(), Ok(TimeBound::AfterStart(90_000_000_000)));
        assert_eq!(
            "1970-01-01T00:00:01Z".parse(),
            Ok(TimeBound::At(1_000_000_000))
        );
        assert!("yesterday".parse::<TimeBound>().is_err());
        assert_eq!(TimeBound::AfterStart(5).resolve(10), 15);
    }
}
