//! Which exchanges a connection keeps. Exchanges are numbered in the order they begin (a
//! request, or a response no request was seen for); response `n` answers exchange `n`. At most
//! [`MAX_EXCHANGES`] are kept: when the record is full, exchanges that are over and healthy (a
//! complete answer below 400, fast, not a login leg) are dropped from it, as they hold nothing
//! a rule reads, so a long keep-alive or pipelined connection keeps every exchange that could
//! fail. Only when the record is full of those does an exchange go unkept, counted as
//! [`BEYOND_CAP`].

use super::{BEYOND_CAP, Exchange, HttpStream, MAX_EXCHANGES};

/// The most recent exchanges are never dropped (pipelined answers still to come, the last
/// exchange a connection-level cause falls back to).
const KEEP_RECENT: usize = 16;
/// A first response byte this long after the request could make a slow response (the floor of
/// `server.slow_response`, diagnose/http_framing.rs): such an exchange is kept.
const FAST_NS: i64 = 1_000_000_000;
/// After a pass that freed little, the next waits this many new exchanges (each pass reads the
/// whole record: at most one per this many exchanges keeps the cost per exchange constant).
const PASS_EVERY: u64 = (MAX_EXCHANGES / 8) as u64;

/// The numbering of the kept exchanges.
#[derive(Debug, Default)]
pub(super) struct Kept {
    /// The number of each kept exchange, parallel to `HttpFacts::exchanges` (ascending).
    numbers: Vec<u64>,
    /// Exchanges begun so far (the next one's number).
    begun: u64,
    /// Healthy exchanges dropped from the record.
    dropped: u64,
    /// Exchanges not kept because the record was full of ones that could fail.
    not_kept: u64,
    /// No pass before this many exchanges have begun.
    next_pass: u64,
}

impl HttpStream {
    /// The position in `facts.exchanges` of exchange `number`, if it is kept.
    pub(super) fn position(&self, number: u64) -> Option<usize> {
        let kept = &self.kept;
        if kept.dropped == 0 {
            let i = usize::try_from(number).ok()?;
            return (i < kept.numbers.len()).then_some(i);
        }
        kept.numbers.binary_search(&number).ok()
    }

    /// The exchange with `number`, if kept.
    pub(super) fn exchange_mut(&mut self, number: u64) -> Option<&mut Exchange> {
        let i = self.position(number)?;
        self.facts.exchanges.get_mut(i)
    }

    /// How many exchanges have begun (the next one's number).
    pub(super) fn begun(&self) -> u64 {
        self.kept.begun
    }

    /// A new exchange begins: kept when there is room (made by dropping healthy ones if
    /// needed); its number when kept.
    pub(super) fn begin(&mut self, exchange: Exchange) -> Option<u64> {
        let number = self.kept.begun;
        self.kept.begun += 1;
        if self.facts.exchanges.len() >= MAX_EXCHANGES {
            self.drop_healthy();
        }
        if self.facts.exchanges.len() >= MAX_EXCHANGES {
            self.kept.not_kept += 1;
            return None;
        }
        self.facts.exchanges.push(exchange);
        self.kept.numbers.push(number);
        Some(number)
    }

    /// Drops the exchanges no rule can find fault with from the full record.
    fn drop_healthy(&mut self) {
        if self.kept.begun < self.kept.next_pass {
            return;
        }
        let ex = &self.facts.exchanges;
        let droppable: Vec<bool> = (0..ex.len())
            .map(|i| {
                i + KEEP_RECENT < ex.len()
                    && over_and_healthy(&ex[i])
                    && !i
                        .checked_sub(1)
                        .and_then(|p| ex[p].response.as_ref())
                        .is_some_and(|r| matches!(r.head.status, 401 | 407))
            })
            .collect();
        let before = ex.len();
        let mut flags = droppable.iter();
        self.facts
            .exchanges
            .retain(|_| !flags.next().copied().unwrap_or(false));
        let mut flags = droppable.iter();
        self.kept
            .numbers
            .retain(|_| !flags.next().copied().unwrap_or(false));
        let freed = before - self.facts.exchanges.len();
        self.kept.dropped += freed as u64;
        if (freed as u64) < PASS_EVERY {
            self.kept.next_pass = self.kept.begun + PASS_EVERY;
        }
    }

    /// The connection ended: exchanges that were not kept are counted.
    pub(super) fn count_not_kept(&mut self) {
        self.facts.anomalies.add(BEYOND_CAP, self.kept.not_kept);
    }
}

/// An exchange whose request and complete answer below 400 were seen, answered within
/// [`FAST_NS`], with nothing missing: no rule finds fault with it.
fn over_and_healthy(e: &Exchange) -> bool {
    let (Some(req), Some(resp)) = (&e.request, &e.response) else {
        return false;
    };
    let Some(sent) = req.last else {
        return false;
    };
    resp.complete
        && (200..400).contains(&resp.head.status)
        && resp.body_missing == 0
        && !e.response_not_captured
        && e.first_interim.is_none()
        && !req.head.malformed
        && resp.first.ts_ns.saturating_sub(sent.ts_ns) < FAST_NS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{Origin, StreamChunk};

    #[test]
    fn healthy_exchanges_make_room_and_login_legs_stay_paired() {
        let mut s = HttpStream::default();
        let n = MAX_EXCHANGES as u64 * 3;
        // A login leg (a 401 the next request answers with credentials) every 100 exchanges.
        for i in 0..n {
            let origin = Origin {
                frame: i,
                ts_ns: i as i64,
            };
            let auth = if i % 100 == 3 {
                "Authorization: Basic eA==\r\n"
            } else {
                ""
            };
            let req = format!("GET /{i} HTTP/1.1\r\n{auth}\r\n");
            let status = if i % 100 == 2 { 401 } else { 200 };
            let resp = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
            for (from_client, bytes) in [(true, req.as_bytes()), (false, resp.as_bytes())] {
                s.on_chunk(from_client, origin, StreamChunk::Data { offset: 0, bytes });
            }
        }
        let numbers = s.kept.numbers.clone();
        let f = s.finish();
        assert_eq!(f.exchange_count(), n);
        assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
        let status = |i: usize| f.exchanges[i].response.as_ref().map(|r| r.head.status);
        // Every 401 the client answered is still followed by the request that answered it.
        let unauthorized: Vec<usize> = (0..f.exchanges.len())
            .filter(|&i| status(i) == Some(401))
            .collect();
        assert_eq!(unauthorized.len() as u64, n / 100 + 1);
        for i in unauthorized {
            assert_eq!(numbers[i + 1], numbers[i] + 1);
            assert_eq!(status(i + 1), Some(200));
        }
        assert!(f.exchanges.len() <= MAX_EXCHANGES);
    }
}
