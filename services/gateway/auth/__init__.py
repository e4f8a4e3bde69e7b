"""Who is calling: one rule for every door into the gateway (the proxy and the gateway's own endpoints).

A browser session cookie (+ CSRF token on unsafe methods) or an OAuth bearer access token, checked by
`rules.decide` against what the stores hold (the browser session, the token's revocation marks, the
user's cached state), with a short memory in front of it (`cache.AuthCache`). The stores are handed in
(`ports`): this feature imports none of them, so every feature's controllers may import it.
"""
