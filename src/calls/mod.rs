//! The API-call model (DNS lookup → connect → TLS → request/response) arrives with the HTTP and
//! DNS issue; until then the analysis counts no calls.
