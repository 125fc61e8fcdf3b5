"""Facts: what the bench observed, recorded whole, judged only by rules.

A component (simulator, client, proxy, loader) captures facts; `drimlab.validation.assess`
turns them into Findings and a Report. Every fact type here is a frozen dataclass with
`as_dict()` / `from_dict()`, so the store, the evidence bundle and the monitor carry exactly
what the rules saw. This package imports nothing above `drimlab.errors`.

- `tls`       one connection: role, addresses, version, cipher, the presented chain, a refused
              handshake (who refused and why), the bench's revocation and whitelist lookups
- `decision`  what the server simulator answered and why (a refusal and its cause)
- `probe`     the outcome of each probe of the battery and of the concurrent burst
- `whitelist` a whitelist document and the facts of its signature
- `store`     whether the server simulator can record what it serves (its evidence store)
- `relay`     what the recording proxy saw of an exchange: both directions' byte counts and
              hashes on both sides, how it ended, whether the live validation kept up
"""
