//! Bytes as a capture file (pcap, pcapng, either gzip-compressed) through the source reader and
//! the whole analysis, then every finding rendered.
#![no_main]

mod common;

use faultline::analysis::{Config, analyze_reader_streaming};
use faultline::source::open_reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(reader) = open_reader("fuzz", raw) else {
        return;
    };
    let analysis = analyze_reader_streaming(reader, Config::default(), drop);
    common::render(&analysis);
});
