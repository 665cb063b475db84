"""Model registries (MLflow), one module per system."""
