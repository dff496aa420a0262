//! Application parsers fed by TCP reassembly (TLS, HTTP/1.x, DNS) arrive with their issues.
//! They consume [`crate::tcp::StreamChunk`]s: contiguous bytes in order, with explicit gaps.
