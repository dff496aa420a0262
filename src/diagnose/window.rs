//! A client that stopped reading: its receive window went to zero and stayed there while the
//! server had more to send (the twin of `stream::not_reading`, which reads the server's window).

use crate::tcp::ConnectionSummary;
use crate::timefmt::human_duration;

use super::draft::{Draft, call, earliest};
use super::sanity::RTO_FLOOR_NS;
use super::stream::rst_mark;
use super::{Cause, Confidence};

/// The client advertised a zero window, never opened it again, and the server kept probing.
pub(super) fn client_not_reading(conn: &ConnectionSummary) -> Option<Draft> {
    let server = &conn.facts.server;
    let zero = conn.facts.client.zero_window?;
    if zero.reopened || server.sent_into_zero_window == 0 {
        return None;
    }
    // Held until the server gave up (its FIN or RST) or the capture's last frame of the
    // connection; a zero window only briefly (shorter than a persist timer) is flow control.
    let close = earliest(server.first_fin, server.first_rst.map(rst_mark))
        .filter(|c| c.frame > zero.first.frame);
    let end = close.map_or(conn.last_ts_ns, |c| c.ts_ns);
    let held_ns = end.saturating_sub(zero.first.ts_ns);
    if held_ns < RTO_FLOOR_NS {
        return None;
    }
    let held = human_duration(held_ns);
    let mut draft = Draft::new(Cause::ClientNotReading, Confidence::High)
        .summary(format!(
            "{}: the client stopped reading: its receive window stayed at zero for {held} while the server had data to send ({} probes into the closed window){}",
            call(conn),
            server.sent_into_zero_window,
            if close.is_some() { "; the server gave up" } else { "" }
        ))
        .explanation(
            "A zero window means the client's receive buffer is full because its application does \
             not read from the socket. The server probed the closed window (RFC 9293 3.8.6.1) and \
             it never opened again: the client application is stuck, blocked on something else, \
             or was suspended.",
        )
        .evidence(zero.first, "client advertises a zero receive window")
        .remedy(format!("Look at what the client process on {} was doing (a blocked reader thread, a full queue it never drains, a debugger or SIGSTOP).", conn.client))
        .check_wait(held_ns, false);
    if zero.last.frame != zero.first.frame {
        draft = draft.evidence(zero.last, format!("still a zero window, {held} later"));
    }
    if let Some(close) = close {
        draft = draft.evidence(close, "server closes into the zero window");
    }
    Some(draft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::script::{ACK, PSH_ACK, c, run, s};

    #[test]
    fn a_client_holding_a_zero_window_is_not_reading() {
        // Mid-connection capture: the server (port 443) sends, the client's window is zero and
        // stays zero through the server's probes for 24 s.
        let steps = [
            s(0, PSH_ACK, 1, 1, 1344),
            c(0, ACK, 1, 1345, 0).window(0),
            s(3410, ACK, 1344, 1, 0),
            c(3410, ACK, 1, 1345, 0).window(0),
            s(10194, ACK, 1344, 1, 0),
            c(10194, ACK, 1, 1345, 0).window(0),
            s(23731, ACK, 1344, 1, 0),
            c(23731, ACK, 1, 1345, 0).window(0),
        ];
        let conn = run(&steps);
        let d = client_not_reading(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::ClientNotReading);
        assert_eq!(d.frames(), vec![2, 8]);
    }

    #[test]
    fn a_window_that_opens_again_is_flow_control() {
        let steps = [
            s(0, PSH_ACK, 1, 1, 1344),
            c(0, ACK, 1, 1345, 0).window(0),
            s(300, ACK, 1344, 1, 0),
            c(310, ACK, 1, 1345, 0).window(500),
        ];
        assert!(client_not_reading(&run(&steps)).is_none());
    }
}
