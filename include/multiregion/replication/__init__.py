"""Dataset replication: scan, copy, validate, publish, read."""
