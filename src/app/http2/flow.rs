//! Flow control (RFC 9113 section 5.2): each sender's connection window and stream windows,
//! spent by DATA and granted by the receiver's WINDOW_UPDATE and SETTINGS_INITIAL_WINDOW_SIZE,
//! and the windows that closed on a sender with more to send and stayed closed.

use std::collections::HashMap;

use super::WindowStall;
use crate::tcp::Origin;

/// The window every stream and the connection start with (RFC 9113 section 6.9.2).
const DEFAULT_WINDOW: i64 = 65_535;
/// A window reopened this long after it closed held its sender back: a stall.
pub const STALL_NS: i64 = 1_000_000_000;
/// At most this many stalls are kept per connection.
const MAX_STALLS: usize = 64;
/// At most this many closed windows are watched at once.
const MAX_CLOSED: usize = 256;

/// A window at zero or below, waiting for credit.
#[derive(Debug, Clone, Copy)]
struct Closed {
    sender_is_client: bool,
    stream_id: u32,
    at: Origin,
}

/// Both senders' windows.
#[derive(Debug)]
pub struct Flow {
    /// Counting stopped: frames were lost (a gap), or the capture joined late.
    off: bool,
    /// Connection window of the client's (`[0]`) and the server's (`[1]`) DATA.
    conn: [i64; 2],
    /// Initial stream window for each sender (set by the receiver's SETTINGS).
    initial: [i64; 2],
    /// Stream windows by (stream, sender).
    streams: HashMap<(u32, usize), i64>,
    closed: Vec<Closed>,
    pub stalls: Vec<WindowStall>,
}

fn idx(sender_is_client: bool) -> usize {
    usize::from(!sender_is_client)
}

impl Flow {
    pub fn new(on: bool) -> Self {
        Flow {
            off: !on,
            conn: [DEFAULT_WINDOW; 2],
            initial: [DEFAULT_WINDOW; 2],
            streams: HashMap::new(),
            closed: Vec::new(),
            stalls: Vec::new(),
        }
    }

    /// Frames were lost: windows are no longer known.
    pub fn stop(&mut self) {
        self.off = true;
        self.streams = HashMap::new();
        self.closed = Vec::new();
    }

    /// A DATA frame of `len` bytes (padding included) from the sender; `more` says the sender
    /// still has the stream open after it.
    pub fn on_data(
        &mut self,
        sender_is_client: bool,
        stream: u32,
        len: u32,
        more: bool,
        at: Origin,
    ) {
        if self.off {
            return;
        }
        let d = idx(sender_is_client);
        let len = i64::from(len);
        let initial = self.initial.get(d).copied().unwrap_or(DEFAULT_WINDOW);
        let w = self.streams.entry((stream, d)).or_insert(initial);
        let was = *w;
        *w = w.saturating_sub(len);
        if was > 0 && *w <= 0 && more {
            self.close(sender_is_client, stream, at);
        }
        if !more {
            self.streams.remove(&(stream, d));
        }
        if let Some(c) = self.conn.get_mut(d) {
            let was = *c;
            *c = c.saturating_sub(len);
            if was > 0 && *c <= 0 {
                self.close(sender_is_client, 0, at);
            }
        }
    }

    fn close(&mut self, sender_is_client: bool, stream_id: u32, at: Origin) {
        if self.closed.len() < MAX_CLOSED {
            self.closed.push(Closed {
                sender_is_client,
                stream_id,
                at,
            });
        }
    }

    /// A WINDOW_UPDATE from the receiver granting the other side `inc` bytes on `stream` (0:
    /// the connection).
    pub fn on_update(&mut self, from_client: bool, stream: u32, inc: u32, at: Origin) {
        if self.off {
            return;
        }
        let sender_is_client = !from_client;
        let d = idx(sender_is_client);
        let w = if stream == 0 {
            self.conn.get_mut(d)
        } else {
            let initial = self.initial.get(d).copied().unwrap_or(DEFAULT_WINDOW);
            Some(self.streams.entry((stream, d)).or_insert(initial))
        };
        let Some(w) = w else {
            return;
        };
        *w = w.saturating_add(i64::from(inc));
        if *w > 0 {
            self.reopen(sender_is_client, stream, at);
        }
    }

    fn reopen(&mut self, sender_is_client: bool, stream_id: u32, at: Origin) {
        let Some(i) = self
            .closed
            .iter()
            .position(|c| c.sender_is_client == sender_is_client && c.stream_id == stream_id)
        else {
            return;
        };
        let c = self.closed.swap_remove(i);
        if at.ts_ns.saturating_sub(c.at.ts_ns) >= STALL_NS {
            self.stall(c, Some(at));
        }
    }

    fn stall(&mut self, c: Closed, reopened_at: Option<Origin>) {
        if self.stalls.len() < MAX_STALLS {
            self.stalls.push(WindowStall {
                sender_is_client: c.sender_is_client,
                stream_id: c.stream_id,
                closed_at: c.at,
                reopened_at,
            });
        }
    }

    /// The receiver (`from_client`) announced SETTINGS_INITIAL_WINDOW_SIZE: every stream
    /// window of the other side moves by the difference.
    pub fn on_initial(&mut self, from_client: bool, size: u32) {
        let d = idx(!from_client);
        let Some(initial) = self.initial.get_mut(d) else {
            return;
        };
        let delta = i64::from(size) - *initial;
        *initial = i64::from(size);
        for ((_, s), w) in self.streams.iter_mut() {
            if *s == d {
                *w = w.saturating_add(delta);
            }
        }
    }

    /// The end: windows still closed on a sender that has the stream (or, for the connection
    /// window, any stream) open are stalls. `sending(client, stream)` says whether it has.
    pub fn finish(
        mut self,
        sending: impl Fn(bool, u32) -> bool,
        any_sending: impl Fn(bool) -> bool,
    ) -> Vec<WindowStall> {
        if !self.off {
            for c in std::mem::take(&mut self.closed) {
                let open = if c.stream_id == 0 {
                    any_sending(c.sender_is_client)
                } else {
                    sending(c.sender_is_client, c.stream_id)
                };
                if open {
                    self.stall(c, None);
                }
            }
        }
        self.stalls
    }
}
