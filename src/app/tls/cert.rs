//! What a certificate says (subject, issuer, names, validity), read with `x509-parser` from
//! the DER a TLS <= 1.2 handshake showed; and whether it covers a name or an address.

use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS;
use x509_parser::prelude::{FromDer, X509Certificate};

/// At most this many names are kept from a certificate's subjectAltName.
const MAX_NAMES: usize = 64;

/// The parts of a certificate a diagnosis shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Validity, in seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// subjectAltName DNS names (lowercase); the subject's common name when the certificate
    /// has no DNS name (RFC 6125 §6.4.4).
    pub dns_names: Vec<String>,
    /// subjectAltName IP addresses.
    pub ips: Vec<IpAddr>,
    /// Self-signed: the issuer is the subject.
    pub self_issued: bool,
    /// The certificate names where its issuer's certificate can be fetched (Authority
    /// Information Access, caIssuers, RFC 5280 4.2.2.1): what public CAs put in the
    /// certificates they issue, and what browsers use to complete a chain a server sent
    /// incomplete.
    pub ca_issuers_url: Option<String>,
}

impl CertInfo {
    /// Reads a DER certificate; `None` when it does not parse.
    pub fn parse(der: &[u8]) -> Option<CertInfo> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let mut info = CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            dns_names: Vec::new(),
            ips: Vec::new(),
            self_issued: cert.subject() == cert.issuer(),
            ca_issuers_url: None,
        };
        for ext in cert.extensions() {
            if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
                info.ca_issuers_url = aia
                    .iter()
                    .filter(|d| d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS)
                    .find_map(|d| match d.access_location {
                        GeneralName::URI(uri) => Some(uri.chars().take(256).collect()),
                        _ => None,
                    });
            }
        }
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in san.value.general_names.iter().take(MAX_NAMES) {
                match name {
                    GeneralName::DNSName(n) => info.dns_names.push(n.to_ascii_lowercase()),
                    GeneralName::IPAddress(raw) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*raw) {
                            info.ips.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*raw) {
                            info.ips.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        }
        if info.dns_names.is_empty() {
            info.dns_names.extend(
                cert.subject()
                    .iter_common_name()
                    .filter_map(|cn| cn.as_str().ok())
                    .take(1)
                    .map(str::to_ascii_lowercase),
            );
        }
        Some(info)
    }

    /// True when a DNS name of the certificate covers `host` (RFC 6125: a `*.` wildcard covers
    /// exactly one left-most label).
    pub fn covers_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.dns_names.iter().any(|pattern| {
            let pattern = pattern.trim_end_matches('.');
            match pattern.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => pattern == host,
            }
        })
    }

    /// True when an IP address of the certificate is `ip`.
    pub fn covers_ip(&self, ip: IpAddr) -> bool {
        self.ips.contains(&ip)
    }

    /// Valid at `unix_secs`.
    pub fn valid_at(&self, unix_secs: i64) -> bool {
        (self.not_before..=self.not_after).contains(&unix_secs)
    }

    /// The names it is for, for messages: `api.example.com, *.example.com`.
    pub fn names_text(&self) -> String {
        let mut names: Vec<String> = self.dns_names.iter().take(6).cloned().collect();
        names.extend(self.ips.iter().take(4).map(|ip| ip.to_string()));
        if names.is_empty() {
            return format!("no subjectAltName; subject {}", self.subject);
        }
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::CertInfo;

    fn info(names: &[&str]) -> CertInfo {
        CertInfo {
            subject: String::new(),
            issuer: String::new(),
            not_before: 0,
            not_after: 10,
            dns_names: names.iter().map(|n| n.to_string()).collect(),
            ips: Vec::new(),
            self_issued: false,
            ca_issuers_url: None,
        }
    }

    #[test]
    fn wildcards_cover_one_label() {
        let c = info(&["*.lab.test", "api.example"]);
        assert!(c.covers_name("api.lab.test"));
        assert!(c.covers_name("API.example."));
        assert!(!c.covers_name("a.b.lab.test"));
        assert!(!c.covers_name("lab.test"));
        assert!(!c.covers_name("other.example"));
        assert!(c.valid_at(5) && !c.valid_at(11));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(CertInfo::parse(&[0x30, 0x03, 1, 2, 3]).is_none());
        assert!(CertInfo::parse(&[]).is_none());
    }
}
