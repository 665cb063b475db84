"""``python -m multiregion.serving --region NAME [--port P]``: run one region's endpoint."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from multiregion.core.topology import load_topology
from multiregion.serving.app import create_app
from multiregion.serving.model_source import AliasFollower


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--refresh-seconds", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    region = load_topology().region(args.region)
    follower = AliasFollower(region.registry.uri, region.serving.model, region.serving.alias, args.refresh_seconds)
    uvicorn.run(create_app(region, follower), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
