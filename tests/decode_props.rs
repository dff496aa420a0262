//! Property tests: no input, however damaged, makes the reader or the analysis panic.

use std::io::Cursor;

use faultline::analysis::{Analyzer, Config};
use faultline::decode::Decoder;
use faultline::source::{CaptureReader, Frame, LinkType};
use proptest::prelude::*;

const LINK_TYPES: [LinkType; 7] = [
    LinkType::ETHERNET,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType::RAW,
    LinkType::IPV4,
    LinkType::IPV6,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                             link in 0usize..LINK_TYPES.len(),
                                             orig_extra in 0u32..2000) {
        let mut decoder = Decoder::default();
        let frame = Frame {
            number: 1,
            ts_ns: 0,
            link_type: LINK_TYPES[link],
            bytes: &bytes,
            orig_len: bytes.len() as u32 + orig_extra,
        };
        let _ = decoder.decode(&frame);
    }

    #[test]
    fn a_damaged_capture_never_panics(flips in proptest::collection::vec((0usize..6104, any::<u8>()), 1..40),
                                      cut in 0usize..6104) {
        let mut bytes = std::fs::read("captures/http-with-refused.pcapng").expect("capture");
        for (at, value) in flips {
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        bytes.truncate(cut.max(1));
        if let Ok(mut reader) = CaptureReader::new("damaged", Box::new(Cursor::new(bytes))) {
            let mut analyzer = Analyzer::new(Config::default());
            reader.for_each_frame(|frame| analyzer.process(frame));
            let analysis = analyzer.finish();
            let connections = analysis.connections.len() as u64;
            prop_assert!(connections <= analysis.capture.frames, "{connections} connections from {} frames", analysis.capture.frames);
        }
    }
}
