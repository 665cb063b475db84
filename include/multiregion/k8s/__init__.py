"""Kubernetes deployments of the regional serving fleets, through the cncf-kubernetes provider."""
