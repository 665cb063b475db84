"""Traffic backends: per-region weights in the global DNS (PowerDNS, Route53, Cloudflare)."""
