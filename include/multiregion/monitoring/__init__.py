"""Central monitoring: metrics to the Prometheus Pushgateway."""
