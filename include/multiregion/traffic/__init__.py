"""Traffic: ``controller`` owns every weight change (lock, one read, decision, write, audit); the
backends set per-region weights in the global DNS (PowerDNS, Route53, Cloudflare)."""
