"""A training pipeline, as users run one: train, register in the primary registry, replicate over REST.

    .venv/bin/python scripts/train_and_replicate.py [--model churn-classifier] [--extra-mib N]

Trains a small scikit-learn churn model, logs and registers it in the primary region's MLflow
registry, then asks Airflow (REST, via multiregion.client) to replicate it to every region and
promote it; finally checks every region's serving endpoint serves the new version.
``--extra-mib`` attaches a large extra artifact (to exercise big-artifact replication).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings


def train_and_register(
    model_name: str, registry_uri: str, extra_mib: int = 0, seed: int | None = None, on_registration: bool = True
) -> str:
    """Train, log and register a version. ``on_registration=False`` tags the registered model
    ``mr.replicate_on_registration=false`` first: the registry's webhook leaves it to this
    pipeline's REST call (otherwise both would replicate it, idempotently but twice)."""
    import mlflow
    import mlflow.sklearn
    from localworld.sample_data import churn_table
    from sklearn.linear_model import LogisticRegression

    seed = seed if seed is not None else int(time.time())
    frame = churn_table(2000, seed).to_pandas()
    features = frame[["tenure_months", "monthly_spend", "support_tickets"]].astype("float64")
    model = LogisticRegression(max_iter=500).fit(features, frame["label"])
    mlflow.set_tracking_uri(registry_uri)
    mlflow.set_registry_uri(registry_uri)  # registered where it was logged, whatever the process had set
    if not on_registration:
        _opt_out(mlflow.MlflowClient(registry_uri), model_name)
    mlflow.set_experiment("churn-training")
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name=f"train-{seed}"):
        mlflow.log_params({"seed": seed, "rows": len(frame)})
        mlflow.log_metric("train_accuracy", float(model.score(features, frame["label"])))
        extra = {}
        if extra_mib:
            path = os.path.join(tmp, "embedding_table.bin")
            with open(path, "wb") as fh:
                for _ in range(extra_mib):
                    fh.write(os.urandom(1 << 20))
            extra = {"extra_files": [path]}
        with warnings.catch_warnings():
            # skops looks for each saved type in every loaded module, touching each of Airflow's
            # deprecated-import shims: ~1,000 FutureWarnings that say nothing about this model.
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"skops(\.|$)")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=model_name,
                input_example=features.head(5),
                pip_requirements=["scikit-learn", "pandas"],  # skip ~5 s of requirement inference
                **extra,
            )
    return str(info.registered_model_version)


def _opt_out(client, model_name: str) -> None:
    from mlflow.exceptions import MlflowException

    from multiregion.core.registry_events import OPT_OUT_TAG

    try:
        client.create_registered_model(model_name, tags={OPT_OUT_TAG: "false"})
    except MlflowException:  # it exists
        client.set_registered_model_tag(model_name, OPT_OUT_TAG, "false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="churn-classifier")
    parser.add_argument("--extra-mib", type=int, default=0)
    parser.add_argument("--alias-to", default="champion")
    args = parser.parse_args()

    from multiregion.client import replicate_model
    from multiregion.core.topology import load_topology
    from multiregion.serving.health_client import get_health

    topology = load_topology()
    version = train_and_register(args.model, topology.primary.registry.uri, args.extra_mib)
    print(f"registered {args.model} v{version} in {topology.primary.name} ({topology.primary.registry.uri})")
    result = replicate_model(args.model, version=version, promote_alias=args.alias_to)
    print(f"replication run {result.run_id}: {result.state} in {result.seconds:.1f}s (trigger -> alias flipped)")
    if result.state != "success":
        print(f"failed tasks: {result.failed_tasks}", file=sys.stderr)
        return 1
    for region, regional_version in sorted((result.promoted or {}).get("versions", {}).items()):
        print(f"  {region:11} {args.model}@{args.alias_to} -> v{regional_version}")
    for region in topology.regions:
        health = get_health(region.serving.endpoints[0])
        print(f"  {region.name:11} serving {health['model']} v{health['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
