"""Platform state kept outside Airflow's metadata DB: region health, traffic audit, original weights."""
