//! The catalogue of causes: every diagnosis faultline can give, declared once with its code,
//! category, severity, what it means and the generic fix, the way Wireshark declares its expert
//! items. Rules name a [`Cause`]; the code string, the category, the severity (and so whether a
//! call counts as failed) come from here only. `docs/causes.md` is generated from this table
//! ([`markdown`]) and a test keeps the two equal.

use serde::Serialize;

use super::Category;

/// What a finding says about the call: failed, went through degraded, went through with
/// something wrong, or merely worth knowing. Only `failed` counts as a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; nothing failed or slowed down (path MTU discovery at work).
    Info,
    /// The call went through, but something about it is wrong (a certificate nobody checked).
    Warning,
    /// The call completed, but slowly or with losses that explain a delay.
    Degraded,
    /// The call failed.
    Failed,
}

impl Severity {
    /// The lowercase name used in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Degraded => "degraded",
            Severity::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the catalogue.
struct Entry {
    code: &'static str,
    category: Category,
    severity: Severity,
    meaning: &'static str,
    fix: &'static str,
}

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident => ($code:literal, $category:ident, $severity:ident,
        $meaning:literal, $fix:literal) ),+ $(,)?) => {
        /// A cause faultline can name. Each knows its code, category and severity.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Cause {
            $( $(#[$doc])* $variant, )+
            /// A fatal TLS alert with no more specific cause, by its description number
            /// (`tls.alert_<description>`, e.g. `tls.alert_bad_certificate`).
            TlsAlert(u8),
        }

        impl Cause {
            /// Every cause, in catalogue order.
            /// (`TlsAlert` appears once, for the family.)
            pub const ALL: &'static [Cause] = &[ $( Cause::$variant, )+ Cause::TlsAlert(42) ];

            fn entry(self) -> Entry {
                match self {
                    $( Cause::$variant => Entry {
                        code: $code,
                        category: Category::$category,
                        severity: Severity::$severity,
                        meaning: $meaning,
                        fix: $fix,
                    }, )+
                    Cause::TlsAlert(description) => Entry {
                        code: crate::app::tls::alert_cause_code(description),
                        category: Category::Tls,
                        severity: Severity::Failed,
                        meaning: "A side ended the TLS handshake with a fatal alert whose description names the reason (RFC 8446 6.2); the finding names the sender.",
                        fix: "Read the alert's description and its sender: the sender's TLS log names the reason in detail.",
                    },
                }
            }
        }
    };
}

catalogue! {
    // --- network: the path between the hosts ---
    /// A router answered with ICMP host unreachable.
    IcmpHostUnreachable => ("network.icmp_host_unreachable", Network, Failed,
        "A router (or the last hop's ARP/ND) reported the server's address unreachable: ICMP type 3 code 1, ICMPv6 1/3, quoting the call's packet.",
        "Check that the server is up and on its subnet (ARP/neighbour table of the last router), and the routes toward it."),
    /// A router answered with ICMP network unreachable.
    IcmpNetUnreachable => ("network.icmp_net_unreachable", Network, Failed,
        "A router has no route to the server's network: ICMP type 3 code 0, ICMPv6 1/0, quoting the call's packet.",
        "Check the routing table of the router that sent the ICMP error (its address is in the evidence) and route advertisements toward the server's prefix."),
    /// The packet's TTL ran out on the way.
    TtlExceeded => ("network.ttl_exceeded", Network, Failed,
        "The call's packet ran out of TTL / hop limit on the way (ICMP time exceeded): a routing loop or a path longer than the sender's initial TTL.",
        "Trace the path (traceroute / mtr) from the client; look for a loop between the routers around the one that answered."),
    /// Real loss repaired by retransmission.
    PacketLoss => ("network.packet_loss", Network, Degraded,
        "Data segments were lost and retransmitted (new datagrams, after a timer or duplicate ACKs): the call went through, slower.",
        "Look for the lossy hop: interface error and drop counters, a saturated link or queue, a shaper or policer on the path."),
    /// Full-size segments vanish with no ICMP frag-needed.
    PmtuBlackhole => ("network.pmtu_blackhole", Network, Failed,
        "Full-size segments never arrive while small ones do, and no ICMP fragmentation-needed / packet-too-big comes back: a path MTU black hole.",
        "Clamp the MSS on the router or tunnel with the smaller MTU (iptables TCPMSS --clamp-mss-to-pmtu), let ICMP type 3 code 4 / ICMPv6 type 2 through, or lower the interface MTU."),
    /// Path MTU discovery at work: ICMP said the packet was too big and the sender adapted.
    PmtuStep => ("network.pmtu_step", Network, Info,
        "A router said the call's packets were too big for the next link (ICMP fragmentation-needed / packet-too-big with its MTU) and the sender re-segmented: path MTU discovery worked, at the cost of a round trip.",
        "Nothing failed. To save the step, clamp the MSS where the smaller link starts or match the interface MTU to the path."),
    /// The peer stopped acknowledging mid-transfer.
    PeerUnresponsiveMidstream => ("network.peer_unresponsive_midstream", Network, Failed,
        "Mid-transfer, one side retransmitted the same data again and again with no acknowledgement: the peer or the path to it vanished.",
        "Check whether the peer crashed or was rebooted, a stateful firewall or NAT dropped the connection's state, or the path broke (route change, link down)."),

    // --- firewall: something that filters ---
    /// SYNs that nothing answered.
    SynUnanswered => ("firewall.syn_unanswered", Firewall, Failed,
        "The client's SYN and its retransmissions got no answer at all (no SYN-ACK, RST or ICMP error): silently dropped, typically by a firewall rule; or the host is down.",
        "Check security groups / inbound rules, network ACLs and host firewalls between client and server for the server's port; check that the server host is up."),
    /// A router or firewall said administratively prohibited.
    IcmpAdminProhibited => ("firewall.icmp_admin_prohibited", Firewall, Failed,
        "A router or firewall refused the packet and said so: ICMP type 3 code 9/10/13 or ICMPv6 1/1.",
        "Find the rule on the device that sent the ICMP error (its address is in the evidence) matching this client, server and port."),
    /// Port unreachable: nothing listens on the UDP port, or a REJECT rule.
    IcmpPortUnreachable => ("firewall.icmp_port_unreachable", Firewall, Failed,
        "ICMP port unreachable quoting the call's packet: nothing listens on that port of the server, or a REJECT rule answers for it.",
        "Check that the service listens on that port (ss -lun / ss -ltn on the server) and any REJECT rule on the way."),
    /// The server's host rejected the connection with ICMP host unreachable about itself.
    IcmpHostRejected => ("firewall.icmp_host_unreachable", Firewall, Failed,
        "The server's own address reported itself unreachable: a host that answers is up, so this is its firewall rejecting the connection (iptables REJECT --reject-with icmp-host-unreachable, firewalld's default reject).",
        "Check the host firewall on the server (iptables -S, nft list ruleset, firewall-cmd --list-all) for a rule rejecting this port."),
    /// The server's host rejected the connection with ICMP net unreachable about itself.
    IcmpNetRejected => ("firewall.icmp_net_unreachable", Firewall, Failed,
        "The server's own address answered with ICMP network unreachable: its firewall rejects the connection (--reject-with icmp-net-unreachable).",
        "Check the host firewall on the server for a rule rejecting this port."),
    /// Protocol unreachable.
    IcmpProtocolUnreachable => ("firewall.icmp_protocol_unreachable", Firewall, Failed,
        "ICMP protocol unreachable quoting the call's packet: the host or a filter does not accept this transport protocol.",
        "Check host and network filters for the protocol."),
    /// A RST that the server did not send.
    InjectedRst => ("firewall.injected_rst", Firewall, Failed,
        "A RST carrying the server's address arrived with a TTL / hop limit the server's own packets do not have: a device on the path forged it.",
        "Find the security device (IPS, WAF, next-generation firewall, proxy) at the distance the TTL gives and check its logs for this connection."),

    // --- tls ---
    /// No common protocol version.
    VersionMismatch => ("tls.version_mismatch", Tls, Failed,
        "The handshake failed because client and server share no TLS version (alert protocol_version, or a ServerHello the client refused).",
        "Align the TLS versions enabled on both sides (e.g. ssl_protocols on the server, --tls-max / minimum version on the client)."),
    /// No common cipher suite.
    NoSharedCipher => ("tls.no_shared_cipher", Tls, Failed,
        "The server refused the ClientHello with handshake_failure / insufficient_security: no cipher suite, group or signature algorithm in common.",
        "Compare the client's offered suites and groups with the server's configuration; enable a common modern suite (TLS_AES_128_GCM_SHA256, ECDHE-ECDSA/RSA-AES128-GCM-SHA256)."),
    /// The server wants SNI and the client sent none.
    SniRequired => ("tls.sni_required", Tls, Failed,
        "The server refused a ClientHello that carried no server name (SNI) although it offered mainstream suites: the server (or CDN) picks its certificate by name and needs SNI.",
        "Connect by host name, not IP address, or set the server name explicitly (curl --resolve / --connect-to, openssl s_client -servername, the library's server_hostname)."),
    /// The server rejected the SNI.
    SniRejected => ("tls.sni_rejected", Tls, Failed,
        "The server answered unrecognized_name / refused the name in the SNI: it serves no certificate for it.",
        "Use the host name the server is configured for, or add it to the server's certificate and virtual hosts."),
    /// Expired certificate.
    CertificateExpired => ("tls.certificate_expired", Tls, Failed,
        "The server's certificate had expired at the capture's time and the client refused it.",
        "Renew the certificate (and check the automation that should have renewed it); check the client's clock."),
    /// Not yet valid.
    CertificateNotYetValid => ("tls.certificate_not_yet_valid", Tls, Failed,
        "The server's certificate was not yet valid at the capture's time and the client refused it.",
        "Check the clocks of the client and of the machine that issued the certificate."),
    /// Certificate for another name.
    CertificateNameMismatch => ("tls.certificate_name_mismatch", Tls, Failed,
        "The server's certificate does not cover the name the client asked for (SNI) and the client refused it.",
        "Serve a certificate whose SAN covers the name, or make the client use a name the certificate covers."),
    /// Unknown CA or incomplete chain.
    CertificateUntrusted => ("tls.certificate_untrusted", Tls, Failed,
        "The client refused the server's certificate chain: an unknown CA, a missing intermediate, a self-signed certificate.",
        "Send the full chain (leaf and intermediates) from the server; add a private CA to the client's trust store."),
    /// The client went on although the certificate fails validation.
    InvalidCertificateAccepted => ("tls.invalid_certificate_accepted", Tls, Warning,
        "The server's certificate fails validation for every client (expired, not yet valid, another name than asked, or a chain missing its intermediate) but the client completed the handshake and the call: it does not verify certificates (or, for a missing intermediate, fetched it itself as browsers do, while curl, Python, Go and Java fail).",
        "Fix the server's certificate (renew it, cover the name, send the full chain) and turn certificate verification on in the client (no curl -k, verify=True, InsecureSkipVerify=false)."),
    /// The server asked for a client certificate the client did not give.
    ClientCertificateRequired => ("tls.client_certificate_required", Tls, Failed,
        "The server asked for a client certificate (CertificateRequest) and refused the handshake without an acceptable one.",
        "Configure the client certificate and key (curl --cert/--key), or check the server's accepted client CAs."),
    /// The client left the handshake.
    HandshakeAbortedByClient => ("tls.handshake_aborted_by_client", Tls, Failed,
        "The client left the TLS handshake after the server's flight without an alert naming why (often a certificate it rejected).",
        "Run the client with verbose TLS logging (curl -v, SSL debug) to see its reason; check the certificate chain and names."),
    /// The server left the handshake.
    HandshakeAbortedByServer => ("tls.handshake_aborted_by_server", Tls, Failed,
        "The server closed or reset the connection during the handshake without an alert naming why.",
        "Check the server's TLS error log for this client at this time (protocol, cipher, SNI, client certificate)."),

    // --- dns ---
    /// NXDOMAIN.
    DnsNxDomain => ("dns.nxdomain", Dns, Failed,
        "The DNS server answered NXDOMAIN (RCODE 3): the name does not exist.",
        "Check the name for typos and search-list expansion; check the zone has the record."),
    /// SERVFAIL.
    DnsServFail => ("dns.servfail", Dns, Failed,
        "The DNS server answered SERVFAIL (RCODE 2): it could not produce an answer (upstream failure, DNSSEC validation, lame delegation).",
        "Query the authoritative servers directly (dig +trace); check DNSSEC and the resolver's upstreams."),
    /// REFUSED.
    DnsRefused => ("dns.refused", Dns, Failed,
        "The DNS server answered REFUSED (RCODE 5): it will not answer this client by policy.",
        "Use a resolver that serves this client, or allow the client in the server's ACL (allow-query / allow-recursion)."),
    /// NOERROR but no address of any family the client asked.
    DnsNoAnswer => ("dns.no_answer", Dns, Failed,
        "The name exists but has no record of the asked type (NODATA), and no other address family the client asked resolved either.",
        "Add the record to the zone, or make the client ask for the type that exists."),
    /// No response.
    DnsNoResponse => ("dns.no_response", Dns, Failed,
        "No response came to the query or its retries while the capture went on long enough for one: the server is down, unreachable or filtered.",
        "Check that the resolver is up and reachable on port 53 (UDP and TCP) from the client; check firewalls on the way."),
    /// UPDATE / NOTIFY refused.
    DnsOperationRefused => ("dns.operation_refused", Dns, Failed,
        "The DNS server refused an operation other than a query (UPDATE, NOTIFY...): REFUSED or NOTIMP.",
        "Send the update to the zone's primary server, allow the client in its update policy (allow-update / update-policy, TSIG key), or use a server that implements the operation."),

    // --- server ---
    /// RST/ACK to SYN.
    ServerRefused => ("server.refused", Server, Failed,
        "The server's host answered the SYN with RST/ACK: nothing listens on that port.",
        "Start the service or fix the port the client uses; check the service listens on the right address (0.0.0.0 / :: rather than 127.0.0.1)."),
    /// SYNs dropped by a full listen queue.
    ListenQueueFull => ("server.listen_queue_full", Server, Degraded,
        "The server's host was up (answered in the end, or is the client's own loopback) but dropped the client's first SYNs: its listen (SYN/accept) queue was full, so the connect waited for the client's SYN retransmission timer.",
        "Raise the listen backlog (listen(fd, N), nginx listen ... backlog=, net.core.somaxconn, net.ipv4.tcp_max_syn_backlog) and make the accept loop keep up (more workers, no blocking work before accept)."),
    /// HTTP 500.
    Http500 => ("server.http_500", Server, Failed,
        "The server answered 500 Internal Server Error: the application failed on this request.",
        "Look up the server's error log and traces for this request at this time."),
    /// HTTP 502.
    Http502 => ("server.http_502", Server, Failed,
        "A gateway answered 502 Bad Gateway: its upstream failed or answered garbage.",
        "Check the upstream behind the gateway (its health, its logs) and the gateway's upstream configuration."),
    /// HTTP 503.
    Http503 => ("server.http_503", Server, Failed,
        "The server answered 503 Service Unavailable: overloaded, in maintenance, or no healthy upstream.",
        "Check capacity and health of the service behind this address; honour Retry-After if given."),
    /// HTTP 504.
    Http504 => ("server.http_504", Server, Failed,
        "A gateway answered 504 Gateway Timeout: its upstream did not answer in time.",
        "Check the latency of the upstream behind the gateway and the gateway's upstream timeout."),
    /// Other 5xx.
    Http5xx => ("server.http_5xx", Server, Failed,
        "The server answered with another 5xx status: a server-side failure.",
        "Look up the server's logs for this request."),
    /// The server reset the connection after a request.
    ResetAfterRequest => ("server.reset_after_request", Server, Failed,
        "The server's own RST (its TTL) ended the connection after the request, before a complete answer.",
        "Check the server for a crash or restart, a worker killed, or a proxy closing on a limit (body size, header size, timeout)."),
    /// The request was never answered.
    ServerNoResponse => ("server.no_response", Server, Failed,
        "The server acknowledged the request but sent no answer until the client gave up or the connection closed.",
        "Check the server's handling of this request (a hung worker, a slow dependency) and timeouts between client and server."),
    /// The server closed without answering.
    ClosedWithoutResponse => ("server.closed_without_response", Server, Failed,
        "The server closed the connection (FIN) after a request without answering it.",
        "Check the server's logs for this request: a crash in the handler, a limit, or an idle timeout shorter than the request."),
    /// First byte far slower than the round trip.
    SlowResponse => ("server.slow_response", Server, Degraded,
        "The response's first byte came far later than the network round trip explains: the time was spent in the server.",
        "Profile the handler and its dependencies; compare with the server's own latency metrics."),
    /// The server stopped reading: zero window held.
    ServerNotReading => ("server.not_reading", Server, Failed,
        "The server advertised a zero receive window and kept it: its application stopped reading the request.",
        "Check the server application for a blocked or overloaded reader (thread pool exhausted, a deadlock, a slow disk)."),
    /// The response was cut short.
    TruncatedResponse => ("server.truncated_response", Server, Failed,
        "The response ended (server FIN or RST) before the length its framing announced.",
        "Check the server or proxy for a worker that crashed or timed out while writing the response."),

    // --- server: HTTP/2 and gRPC (RFC 9113, gRPC's status codes) ---
    /// HTTP/2 RST_STREAM REFUSED_STREAM from the server.
    Http2RefusedStream => ("server.http2_refused_stream", Server, Failed,
        "The server reset the stream with REFUSED_STREAM (RFC 9113 8.7): it did no processing of the request, usually because the connection's SETTINGS_MAX_CONCURRENT_STREAMS was reached or it is shedding load. The request is safe to retry.",
        "Retry on a new stream or connection; check the server's concurrent-stream limit against the client's pool and the server's load."),
    /// HTTP/2 RST_STREAM from the server with an error.
    Http2StreamReset => ("server.http2_stream_reset", Server, Failed,
        "The server reset the stream with an error code (INTERNAL_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR...) before its response was complete: the call failed on the server or in a proxy that speaks HTTP/2 for it.",
        "Look up the server's (or the HTTP/2 proxy's) log for this stream at this time; the error code names the kind of failure."),
    /// A GOAWAY that killed calls in flight.
    Http2Goaway => ("server.http2_goaway", Server, Failed,
        "The server sent GOAWAY (RFC 9113 6.8) and calls on the connection died with it: streams above its last-stream-id were never processed (safe to retry), and streams it had accepted were still open when the connection closed.",
        "Check why the server went away (a restart or deploy, a connection age or request limit, an error code in the GOAWAY); clients should retry unprocessed streams on a new connection and drain on GOAWAY."),
    /// The server stopped reading a stream: its HTTP/2 window stayed closed.
    Http2ServerNotReading => ("server.http2_not_reading", Server, Failed,
        "The server's HTTP/2 flow-control window (of the stream or the whole connection) fell to zero and it never sent a WINDOW_UPDATE: its application stopped reading the request body. The HTTP/2 twin of a TCP zero window.",
        "Check the server's handler for this request: a reader that blocked or never consumes the body, or a connection window shared with a stalled stream."),
    /// gRPC status UNKNOWN.
    GrpcUnknown => ("server.grpc_unknown", Server, Failed,
        "The server answered grpc-status 2 UNKNOWN: an error the server did not classify, often an exception in the handler.",
        "Look up the server's log for this method at this time; grpc-message usually carries the exception."),
    /// gRPC status DEADLINE_EXCEEDED.
    GrpcDeadlineExceeded => ("server.grpc_deadline_exceeded", Server, Failed,
        "The call's deadline (the client's grpc-timeout) passed before the server answered: the server (or a dependency) was slower than the deadline, or the deadline was too short for the call.",
        "Compare the deadline with the server's normal latency for this method: speed up the handler or its dependencies, or give the call a deadline it can meet."),
    /// gRPC status ABORTED.
    GrpcAborted => ("server.grpc_aborted", Server, Failed,
        "The server answered grpc-status 10 ABORTED: the operation was aborted, typically by a concurrency conflict (a transaction abort, a failed sequencer check).",
        "Retry the whole read-modify-write sequence at a higher level; look for contention on the resource."),
    /// gRPC status INTERNAL.
    GrpcInternal => ("server.grpc_internal", Server, Failed,
        "The server answered grpc-status 13 INTERNAL: an invariant broke in the server (or in the gRPC library: a message it could not parse).",
        "Look up the server's log for this method at this time."),
    /// gRPC status UNAVAILABLE.
    GrpcUnavailable => ("server.grpc_unavailable", Server, Failed,
        "The server (or a proxy for it) answered grpc-status 14 UNAVAILABLE: the service is down, overloaded or has no healthy backend; the call is safe to retry with backoff.",
        "Check the health and capacity of the service behind this address (and the proxy's upstreams when a proxy answered); retry with backoff."),
    /// gRPC status DATA_LOSS.
    GrpcDataLoss => ("server.grpc_data_loss", Server, Failed,
        "The server answered grpc-status 15 DATA_LOSS: unrecoverable data loss or corruption.",
        "Look up the server's log and the storage behind it."),

    /// GraphQL errors with a server-side code.
    GraphqlServerErrors => ("server.graphql_errors", Server, Failed,
        "The GraphQL response carried errors from the server (INTERNAL_SERVER_ERROR, or no code), possibly under a 200 status.",
        "Look up the server's log for the resolver the error's path names."),
    /// Redirects in a loop.
    RedirectLoop => ("server.redirect_loop", Server, Failed,
        "The server redirected the client in a loop: the same redirects repeated on the connection until the client gave up.",
        "Check the redirect rules (http/https, trailing slash, host canonicalisation) at the server and every proxy in front of it."),

    // --- client ---
    /// HTTP 400.
    Http400 => ("client.http_400", Client, Failed,
        "The server answered 400 Bad Request: it could not parse or accept the request.",
        "Compare the request with the API's specification (syntax, headers, body encoding)."),
    /// HTTP 401.
    Http401 => ("client.http_401", Client, Failed,
        "The server answered 401 Unauthorized to the request's last authentication step: missing, expired or wrong credentials.",
        "Check the token or AppKey/secret (expiry, rotation, the realm the challenge names)."),
    /// HTTP 403.
    Http403 => ("client.http_403", Client, Failed,
        "The server answered 403 Forbidden: the credentials are valid but not allowed this resource.",
        "Check the access policy, scopes or roles for this client and path."),
    /// HTTP 404.
    Http404 => ("client.http_404", Client, Failed,
        "The server answered 404 Not Found for this path.",
        "Check the path, the API version and stage, and the Host the request was sent to."),
    /// HTTP 405.
    Http405 => ("client.http_405", Client, Failed,
        "The server answered 405 Method Not Allowed for this method on this path.",
        "Use a method the resource allows (the Allow header lists them)."),
    /// HTTP 413.
    Http413 => ("client.http_413", Client, Failed,
        "The server answered 413 Content Too Large: the body exceeds its limit.",
        "Send a smaller body or raise the limit (client_max_body_size and the like)."),
    /// HTTP 415.
    Http415 => ("client.http_415", Client, Failed,
        "The server answered 415 Unsupported Media Type: it does not accept the body's Content-Type.",
        "Send the Content-Type the API expects."),
    /// HTTP 422.
    Http422 => ("client.http_422", Client, Failed,
        "The server answered 422 Unprocessable Content: the body parsed but failed validation.",
        "Check the body against the API's validation rules (the response body usually says which field)."),
    /// Other 4xx.
    Http4xx => ("client.http_4xx", Client, Failed,
        "The server answered with another 4xx status: the request was refused.",
        "Check the request against the API's specification."),
    /// HTTP 429.
    RateLimited => ("client.rate_limited", Client, Failed,
        "The server answered 429 Too Many Requests: the client exceeded a rate limit or quota.",
        "Honour Retry-After, back off with jitter, and check the gateway's throttling limit and quota."),
    /// HTTP 406.
    Http406 => ("client.http_406", Client, Failed,
        "The server answered 406 Not Acceptable: it has no representation matching the request's Accept headers.",
        "Send an Accept header the API can produce (e.g. application/json), or none."),
    /// HTTP 426.
    Http426 => ("client.http_426", Client, Failed,
        "The server answered 426 Upgrade Required: it refuses this protocol and names the one it wants in Upgrade.",
        "Use the protocol the Upgrade header names (a newer TLS or HTTP version)."),
    /// The server said the access token expired.
    TokenExpired => ("client.token_expired", Client, Failed,
        "The server said the access token expired (RFC 6750 invalid_token described as expired, ExpiredTokenException, \"jwt expired\").",
        "Refresh the token before it expires (check the client's refresh logic and clock); the finding quotes the server's words."),
    /// The server said the token is invalid.
    TokenInvalid => ("client.token_invalid", Client, Failed,
        "The server said the token or grant is invalid: malformed, bad signature, revoked, for another audience, or an invalid OAuth grant.",
        "Check which issuer, audience and signing key the token was made for, and whether it was revoked; get a new one."),
    /// The token lacks a scope.
    InsufficientScope => ("client.insufficient_scope", Client, Failed,
        "The server said the token is valid but lacks a scope the resource needs (RFC 6750 insufficient_scope).",
        "Request the scope the challenge names when obtaining the token, or grant it to the client."),
    /// The credentials are wrong.
    CredentialsWrong => ("client.credentials_wrong", Client, Failed,
        "The server rejected the credentials themselves: an unknown key or client id, a wrong secret or signature (OAuth invalid_client, AWS UnrecognizedClientException or InvalidSignatureException, Basic credentials refused).",
        "Check the key/secret pair the client is configured with (rotated? the right environment?) and, for signed requests, the client's clock and signing code."),
    /// A policy denies the action.
    AccessDenied => ("client.access_denied", Client, Failed,
        "The server said a policy denies this caller the action: a permission, role, ACL or IP policy (AccessDeniedException, PERMISSION_DENIED, a gateway's access-control code).",
        "Grant the caller the permission the message names, or check the access-control policy / IP allowlist in front of the API."),
    /// The API is not at the gateway.
    ApiNotFound => ("client.api_not_found", Client, Failed,
        "The gateway said the API or route does not exist or is not published (e.g. APIG.0101; AWS API Gateway's 403 Missing Authentication Token for an unknown resource).",
        "Check the path, method and host against the gateway's published APIs; publish or deploy the API."),
    /// The API is not in this stage.
    WrongStage => ("client.wrong_stage", Client, Failed,
        "The gateway said the API is not published in the stage/environment the request reached.",
        "Send the stage the API is published to (e.g. the X-Stage header or the stage path prefix), or publish it to this one."),
    /// A quota per long window is exhausted.
    QuotaExhausted => ("client.quota_exhausted", Client, Failed,
        "The server said a quota counted over a long window (a day, a month) is exhausted: retrying soon will not help.",
        "Raise the quota or plan for this key, or spread the calls; the headers say when the window resets."),
    /// The API version is retired.
    ApiVersionRetired => ("client.api_version_retired", Client, Failed,
        "The server said this API version is gone: 410 Gone, or a 404/410 with a Sunset or Deprecation header.",
        "Move the client to the API version the server's documentation or Link header names."),
    /// GraphQL errors the client caused.
    GraphqlClientErrors => ("client.graphql_errors", Client, Failed,
        "The GraphQL response carried errors the client caused (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, validation or parse errors), possibly under a 200 status.",
        "Fix the query, its variables or the credentials as the errors say; do not treat a 200 GraphQL answer as success without checking errors."),
    /// The request reached a server that does not serve its host.
    WrongHost => ("client.wrong_host", Client, Failed,
        "The request reached a server that does not serve the host it named: 421 Misdirected Request, or a gateway's 404 when the Host header differs from the TLS server name.",
        "Send the same name in the Host header and in TLS SNI, and connect to the address that serves that name."),
    /// TLS to a plain port, or the reverse.
    ProtocolMismatch => ("client.protocol_mismatch", Client, Failed,
        "The client spoke another protocol than the server: TLS to a plain HTTP port, or plain HTTP to a TLS port.",
        "Use the right scheme for the port (https:// vs http://)."),
    /// The client gave up.
    Aborted => ("client.aborted", Client, Failed,
        "The client closed or reset the connection before the answer was complete, while nothing in the packets shows the server or the network failing.",
        "Check the client's timeout against the server's normal latency for this request, and whether the client was cancelled."),
    /// The client stopped reading: zero window held.
    ClientNotReading => ("client.not_reading", Client, Failed,
        "The client advertised a zero receive window and kept it: its application stopped reading the answer.",
        "Check the client application for a blocked reader (a full buffer it never drains, a stuck thread)."),
    /// A keep-alive connection reused after the server closed it.
    StaleKeepaliveReuse => ("client.stale_keepalive_reuse", Client, Failed,
        "The client sent a request on a keep-alive connection the server had already closed; the server answered it with RST.",
        "Make the client's idle timeout for pooled connections shorter than the server's keep-alive timeout, or retry idempotent requests on a new connection."),

    // --- client: HTTP/2 and gRPC ---
    /// HTTP/2 RST_STREAM CANCEL from the client.
    Http2Cancelled => ("client.http2_cancelled", Client, Failed,
        "The client reset the stream with CANCEL before the response was complete: it no longer wanted the answer, usually because its own deadline or timeout passed, or the user or a caller cancelled it.",
        "Check the client's timeout for this request against the server's normal latency, and what cancelled it."),
    /// HTTP/2 RST_STREAM from the client with an error.
    Http2ClientStreamReset => ("client.http2_stream_reset", Client, Failed,
        "The client reset the stream with an error code other than CANCEL (PROTOCOL_ERROR, FLOW_CONTROL_ERROR, INTERNAL_ERROR...): it found the server's answer broken or failed itself.",
        "Look up the client's log for this stream; the error code says what it objected to."),
    /// The client stopped reading a stream: its HTTP/2 window stayed closed.
    Http2ClientNotReading => ("client.http2_not_reading", Client, Failed,
        "The client's HTTP/2 flow-control window (of the stream or the whole connection) fell to zero and it never sent a WINDOW_UPDATE: its application stopped reading the response. The HTTP/2 twin of a TCP zero window.",
        "Check the client application for a response it never consumes (a stream left unread, a blocked reader)."),
    /// gRPC status CANCELLED.
    GrpcCancelled => ("client.grpc_cancelled", Client, Failed,
        "The call ended with grpc-status 1 CANCELLED: it was cancelled, usually by the caller.",
        "Check what cancelled the call on the client side (a caller that gave up, a shutdown)."),
    /// gRPC status INVALID_ARGUMENT.
    GrpcInvalidArgument => ("client.grpc_invalid_argument", Client, Failed,
        "The server answered grpc-status 3 INVALID_ARGUMENT: a request field is invalid whatever the system's state.",
        "Fix the request parameters; grpc-message and the status details name the field."),
    /// gRPC status NOT_FOUND.
    GrpcNotFound => ("client.grpc_not_found", Client, Failed,
        "The server answered grpc-status 5 NOT_FOUND: the entity the request names does not exist.",
        "Check the identifiers in the request."),
    /// gRPC status ALREADY_EXISTS.
    GrpcAlreadyExists => ("client.grpc_already_exists", Client, Failed,
        "The server answered grpc-status 6 ALREADY_EXISTS: the entity the request tried to create exists.",
        "Check the identifiers, or make the create idempotent."),
    /// gRPC status PERMISSION_DENIED.
    GrpcPermissionDenied => ("client.grpc_permission_denied", Client, Failed,
        "The server answered grpc-status 7 PERMISSION_DENIED: the caller is known but not allowed this method or resource.",
        "Check the caller's roles, scopes and the access policy for this method."),
    /// gRPC status RESOURCE_EXHAUSTED.
    GrpcResourceExhausted => ("client.grpc_resource_exhausted", Client, Failed,
        "The server answered grpc-status 8 RESOURCE_EXHAUSTED: a rate limit or quota ran out (or a message exceeded the size limit).",
        "Back off and retry later; check the caller's quota and rate limit, or the message size limits on both sides."),
    /// gRPC status FAILED_PRECONDITION.
    GrpcFailedPrecondition => ("client.grpc_failed_precondition", Client, Failed,
        "The server answered grpc-status 9 FAILED_PRECONDITION: the system is not in the state the operation requires.",
        "Bring the resource into the required state first; do not retry unchanged."),
    /// gRPC status OUT_OF_RANGE.
    GrpcOutOfRange => ("client.grpc_out_of_range", Client, Failed,
        "The server answered grpc-status 11 OUT_OF_RANGE: the request asked past a valid range (an offset past the end).",
        "Fix the range the request asks for."),
    /// gRPC status UNIMPLEMENTED.
    GrpcUnimplemented => ("client.grpc_unimplemented", Client, Failed,
        "The server answered grpc-status 12 UNIMPLEMENTED: it does not have this service or method, usually a version mismatch between client and server stubs or a call routed to the wrong server.",
        "Check that the server deploys the service and method the client calls (the :path), and the routing to it."),
    /// gRPC status UNAUTHENTICATED.
    GrpcUnauthenticated => ("client.grpc_unauthenticated", Client, Failed,
        "The server answered grpc-status 16 UNAUTHENTICATED: the call carried no valid credentials.",
        "Check the token or credentials the client attaches (expiry, audience, rotation)."),
}

impl Cause {
    /// `<category>.<name>`, e.g. `firewall.syn_unanswered`: stable, scripts depend on it.
    pub fn code(self) -> &'static str {
        self.entry().code
    }

    /// The kind of cause.
    pub fn category(self) -> Category {
        self.entry().category
    }

    /// Whether a call with this cause failed, went through degraded, or only deserves a note.
    pub fn severity(self) -> Severity {
        self.entry().severity
    }

    /// What the cause means, in general (a rule's explanation adds the packets' specifics).
    pub fn meaning(self) -> &'static str {
        self.entry().meaning
    }

    /// The generic fix.
    pub fn fix(self) -> &'static str {
        self.entry().fix
    }

    /// The cause whose code is `code`.
    pub fn from_code(code: &str) -> Option<Cause> {
        Cause::ALL
            .iter()
            .copied()
            .find(|c| c.code() == code)
            .or_else(|| {
                (0..=u8::MAX)
                    .map(Cause::TlsAlert)
                    .find(|c| c.code() == code)
            })
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_start_with_their_category() {
        let mut seen = std::collections::BTreeSet::new();
        for cause in Cause::ALL {
            assert!(seen.insert(cause.code()), "{} twice", cause.code());
            let (category, name) = cause.code().split_once('.').expect("category.name");
            assert_eq!(category, cause.category().as_str(), "{cause:?}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{cause:?}"
            );
            assert_eq!(Cause::from_code(cause.code()), Some(*cause));
        }
    }

    #[test]
    fn severities_say_which_calls_went_through() {
        assert_eq!(Cause::PacketLoss.severity(), Severity::Degraded);
        assert_eq!(Cause::PmtuStep.severity(), Severity::Info);
        assert_eq!(
            Cause::InvalidCertificateAccepted.severity(),
            Severity::Warning
        );
        assert_eq!(Cause::ServerRefused.severity(), Severity::Failed);
    }
}
