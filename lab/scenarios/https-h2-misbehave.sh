#!/usr/bin/env bash
# h2-misbehave over TLS (ALPN h2) with the client's keys: the same servers, plans and expected
# findings, read in the decrypted HTTP/2. Makes captures/https-h2-misbehave.pcapng and
# https-h2-misbehave.keys (see lab/scenarios/h2-misbehave.sh).
H2MIS_TLS=1 exec "$(dirname "$0")/h2-misbehave.sh"
