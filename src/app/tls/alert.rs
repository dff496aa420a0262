//! Alert descriptions (RFC 8446 §6, RFC 5246 §7.2, and the IANA registry).

macro_rules! alerts {
    ($($number:literal => $name:ident),* $(,)?) => {
        /// The registry name of an alert description (`certificate_expired`), if it has one.
        pub fn alert_name(description: u8) -> Option<&'static str> {
            match description {
                $($number => Some(stringify!($name)),)*
                _ => None,
            }
        }

        /// The finding name for an alert (`alert_certificate_expired`).
        pub fn alert_code(description: u8) -> &'static str {
            match description {
                $($number => concat!("alert_", stringify!($name)),)*
                _ => "alert_unassigned",
            }
        }

        /// The cause code for an alert (`tls.alert_certificate_expired`).
        pub fn alert_cause_code(description: u8) -> &'static str {
            match description {
                $($number => concat!("tls.alert_", stringify!($name)),)*
                _ => "tls.alert_unassigned",
            }
        }
    };
}

alerts! {
    0 => close_notify,
    10 => unexpected_message,
    20 => bad_record_mac,
    21 => decryption_failed,
    22 => record_overflow,
    30 => decompression_failure,
    40 => handshake_failure,
    41 => no_certificate,
    42 => bad_certificate,
    43 => unsupported_certificate,
    44 => certificate_revoked,
    45 => certificate_expired,
    46 => certificate_unknown,
    47 => illegal_parameter,
    48 => unknown_ca,
    49 => access_denied,
    50 => decode_error,
    51 => decrypt_error,
    60 => export_restriction,
    70 => protocol_version,
    71 => insufficient_security,
    80 => internal_error,
    86 => inappropriate_fallback,
    90 => user_canceled,
    100 => no_renegotiation,
    109 => missing_extension,
    110 => unsupported_extension,
    111 => certificate_unobtainable,
    112 => unrecognized_name,
    113 => bad_certificate_status_response,
    114 => bad_certificate_hash_value,
    115 => unknown_psk_identity,
    116 => certificate_required,
    120 => no_application_protocol,
    121 => ech_required,
}
