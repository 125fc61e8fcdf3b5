"""The recording proxy: a relay between two real DRIMBoxes that records and judges every exchange.

A consumer connects to the proxy over mutual TLS as it would to a source; the proxy connects to
the source over mutual TLS and relays each request and response byte for byte (keep-alive,
chunked and close-delimited bodies; large bodies streamed, never held). Every request/response
pair becomes an `Exchange` (`origin="proxy"`, both connections' TLS facts, the relay's facts)
validated by the same rules as everything else while the bytes pass, then stored.

- `config`     `ProxyConfig`: where to listen, the source, each leg's identity and trust
- `relay`      one consumer connection and its exchanges, relayed (`dicomweb.http1` framing)
- `capture`    what the relay notes about one exchange, and the Exchange it becomes
- `live`       the live validation: bounded queues and worker threads, never blocking the relay
- `recording`  storing exchanges and reports off the relay's path; the KOS of an exchange
- `liveview`   one line per exchange for `drimlab proxy`
- `server`     `RecordingProxy`, `proxy_in_thread`, `serve_until_cancelled`
"""
