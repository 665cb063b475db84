"""Deferrable triggers (run in the triggerer). Class paths are persisted in Airflow's database:
don't rename or move them without a migration."""
