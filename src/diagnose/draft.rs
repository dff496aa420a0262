//! A finding under construction, and the small wording helpers the rules share.

use crate::flows::Endpoint;
use crate::tcp::{ConnectionSummary, Mark};
use crate::timefmt::human_duration;

use super::{CallNames, Category, Cause, Confidence, Evidence, Finding, Transport, WireFacts};

/// What a rule decided; the connection fills in the rest.
#[derive(Debug)]
pub(super) struct Draft {
    cause: Cause,
    confidence: Confidence,
    summary: String,
    explanation: String,
    alternatives: Vec<String>,
    evidence: Vec<Evidence>,
    remediation: Vec<String>,
    /// The numbers the finding states, checked before it is emitted (`sanity.rs`).
    checks: Vec<super::sanity::Check>,
    /// What the server said (an HTTP call's error body, gateway, rate-limit headers).
    server_said: Option<Box<super::said_report::SaidReport>>,
}

impl Draft {
    pub fn new(cause: Cause, confidence: Confidence) -> Self {
        Self {
            cause,
            confidence,
            summary: String::new(),
            explanation: String::new(),
            alternatives: Vec::new(),
            evidence: Vec::new(),
            remediation: Vec::new(),
            checks: Vec::new(),
            server_said: None,
        }
    }

    /// States a ratio (0.0 to 1.0) the finding prints.
    pub fn check_ratio(mut self, ratio: f64) -> Self {
        self.checks.push(super::sanity::Check::Ratio(ratio));
        self
    }

    /// States a wait or stall the finding prints; `same_host` when client and server are one
    /// host (no retransmission-timer floor applies to what happens there).
    pub fn check_wait(mut self, ns: i64, same_host: bool) -> Self {
        self.checks
            .push(super::sanity::Check::Wait { ns, same_host });
        self
    }

    /// States a count the finding prints (retransmissions, dropped SYNs...).
    pub fn check_count(mut self, n: u64) -> Self {
        self.checks.push(super::sanity::Check::Count(n));
        self
    }

    /// The first stated number that is not plausible, if any.
    pub fn failed_check(&self) -> Option<super::sanity::Check> {
        self.checks.iter().copied().find(|c| !c.holds())
    }

    /// The cause decided so far.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// How sure the draft is so far.
    #[cfg(test)]
    pub fn confidence_level(&self) -> Confidence {
        self.confidence
    }

    /// Frames of the evidence so far.
    #[cfg(test)]
    pub fn frames(&self) -> Vec<u64> {
        self.evidence.iter().map(|e| e.frame).collect()
    }

    /// The category decided so far.
    pub fn category(&self) -> Category {
        self.cause.category()
    }

    /// Adds to the one-line summary (context a later stage knows, e.g. the TLS handshake).
    pub fn append_summary(mut self, text: &str) -> Self {
        self.summary.push_str(text);
        self
    }

    pub fn summary(mut self, text: impl Into<String>) -> Self {
        self.summary = text.into();
        self
    }

    /// Adds a sentence to the explanation.
    pub fn append_explanation(mut self, text: &str) -> Self {
        if !self.explanation.is_empty() {
            self.explanation.push(' ');
        }
        self.explanation.push_str(text);
        self
    }

    /// Takes the summary, evidence and `server_said` of `other` (a reading of the same call
    /// this one overrides), keeping its own cause, explanation, remedies and alternatives.
    pub fn adopt_from(mut self, other: Draft) -> Self {
        self.summary = other.summary;
        self.evidence = other.evidence;
        self.server_said = other.server_said;
        self
    }

    /// What the server said, for the finding's `server_said`.
    pub fn server_said(mut self, report: super::said_report::SaidReport) -> Self {
        self.server_said = Some(Box::new(report));
        self
    }

    /// Sets the explanation.
    pub fn explanation(mut self, text: impl Into<String>) -> Self {
        self.explanation = text.into();
        self
    }

    /// Changes how sure the finding is (e.g. lowered when the capture cut the story short).
    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }

    pub fn alternative(mut self, text: impl Into<String>) -> Self {
        self.alternatives.push(text.into());
        self
    }

    pub fn remediation(mut self, steps: &[&str]) -> Self {
        self.remediation.extend(steps.iter().map(|s| s.to_string()));
        self
    }

    pub fn remedy(mut self, step: impl Into<String>) -> Self {
        self.remediation.push(step.into());
        self
    }

    /// Adds a frame to the evidence (a frame already there gets the note appended).
    pub fn evidence(mut self, mark: Mark, note: impl Into<String>) -> Self {
        self.push_evidence(mark, note);
        self
    }

    pub fn push_evidence(&mut self, mark: Mark, note: impl Into<String>) {
        let note = note.into();
        if let Some(e) = self.evidence.iter_mut().find(|e| e.frame == mark.frame) {
            e.note.push_str("; ");
            e.note.push_str(&note);
            return;
        }
        self.evidence.push(Evidence {
            frame: mark.frame,
            ts_ns: mark.ts_ns,
            note,
        });
    }

    pub fn into_finding(mut self, conn: &ConnectionSummary) -> Finding {
        self.evidence.sort_by_key(|e| e.frame);
        let first_frame = self
            .evidence
            .first()
            .map_or(conn.first_frame, |e| e.frame.min(conn.first_frame));
        let last_frame = self
            .evidence
            .last()
            .map_or(conn.last_frame, |e| e.frame.max(conn.last_frame));
        Finding {
            id: String::new(),
            code: self.cause.code().to_string(),
            cause: self.cause,
            category: self.cause.category(),
            confidence: self.confidence,
            severity: self.cause.severity(),
            alternatives: self.alternatives,
            summary: self.summary,
            explanation: explanation_or_meaning(self.explanation, self.cause),
            client: conn.client,
            server: conn.server,
            transport: Transport::Tcp,
            names: CallNames::default(),
            first_frame,
            last_frame,
            evidence: self.evidence,
            wireshark_filter: format!("tcp.stream eq {}", conn.stream),
            remediation: remediation_or_fix(self.remediation, self.cause),
            stream: conn.stream,
            wire: WireFacts::default(),
            aggregate: None,
            http2: None,
            server_said: self.server_said,
            file: None,
        }
    }
}

impl Draft {
    /// A finding that is not about one TCP connection (a DNS lookup): its endpoints, the
    /// Wireshark filter that shows it, and the name it is about.
    pub fn into_finding_for(
        mut self,
        client: Endpoint,
        server: Endpoint,
        transport: Transport,
        wireshark_filter: String,
        names: CallNames,
    ) -> Finding {
        self.evidence.sort_by_key(|e| e.frame);
        Finding {
            id: String::new(),
            code: self.cause.code().to_string(),
            cause: self.cause,
            category: self.cause.category(),
            confidence: self.confidence,
            severity: self.cause.severity(),
            alternatives: self.alternatives,
            summary: self.summary,
            explanation: explanation_or_meaning(self.explanation, self.cause),
            client,
            server,
            transport,
            names,
            first_frame: self.evidence.first().map_or(0, |e| e.frame),
            last_frame: self.evidence.last().map_or(0, |e| e.frame),
            evidence: self.evidence,
            wireshark_filter,
            remediation: remediation_or_fix(self.remediation, self.cause),
            stream: u64::MAX,
            wire: WireFacts::default(),
            aggregate: None,
            http2: None,
            server_said: self.server_said,
            file: None,
        }
    }
}

/// A rule's own explanation, or the catalogue's meaning when it gave none.
fn explanation_or_meaning(explanation: String, cause: Cause) -> String {
    if explanation.is_empty() {
        cause.meaning().to_string()
    } else {
        explanation
    }
}

/// A rule's own remediation steps, or the catalogue's fix when it gave none.
fn remediation_or_fix(steps: Vec<String>, cause: Cause) -> Vec<String> {
    if steps.is_empty() {
        vec![cause.fix().to_string()]
    } else {
        steps
    }
}

/// `client 198.18.0.2:50112 -> server 198.18.1.2:80` style call description.
pub(super) fn call(conn: &ConnectionSummary) -> String {
    format!("{} -> {}", conn.client, conn.server)
}

/// Time from `a` to `b`, for people.
pub(super) fn after(a: Mark, b: Mark) -> String {
    human_duration(b.ts_ns.saturating_sub(a.ts_ns))
}

/// The initial TTL a sender most likely used (the common defaults 32, 64, 128, 255) and how many
/// routers the packet crossed since.
pub(super) fn hops(ttl: u8) -> (u8, u8) {
    let initial = [32u8, 64, 128, 255]
        .into_iter()
        .find(|&i| ttl <= i)
        .unwrap_or(255);
    (initial, initial - ttl)
}

/// "TTL 62 (about 2 hops away)"; `hop limit` for IPv6.
pub(super) fn ttl_text(ttl: u8, v6: bool) -> String {
    let (_, n) = hops(ttl);
    let word = if v6 { "hop limit" } else { "TTL" };
    let hop = if n == 1 { "hop" } else { "hops" };
    format!("{word} {ttl} (sent {n} {hop} away)")
}

/// Where a device whose packets arrive with `ttl` sits, seen from the capture point.
pub(super) fn distance(ttl: u8) -> String {
    match hops(ttl).1 {
        0 => "on the capture point's own link (the first router, or a device before it)".into(),
        1 => "one router beyond the first hop".into(),
        n => format!("about {n} routers away from the capture point"),
    }
}

/// Earliest of two optional marks.
pub(super) fn earliest(a: Option<Mark>, b: Option<Mark>) -> Option<Mark> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.frame < x.frame { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_counts_follow_common_initial_ttls() {
        assert_eq!(hops(64), (64, 0));
        assert_eq!(hops(62), (64, 2));
        assert_eq!(hops(120), (128, 8));
        assert_eq!(hops(250), (255, 5));
        assert_eq!(hops(30), (32, 2));
    }
}
