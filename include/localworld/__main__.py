"""``python -m localworld`` — the local world's command line (see scripts/world.sh)."""

from __future__ import annotations

import argparse
import shlex
import sys

from multiregion.core.topology import TopologyError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="world", description="Run the local multi-cloud world.")
    parser.add_argument("--topology", help="topology file (default: $MR_TOPOLOGY or config/topology.local.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every server and wait until all are ready")
    up.add_argument(
        "--stages",
        default="infrastructure,regions,airflow",
        help="comma-separated stages to start (infrastructure, regions, airflow); default: all",
    )
    down = sub.add_parser("down", help="stop every server; leaves no process behind")
    down.add_argument("--strict", action="store_true", help="exit 4 if any process had to be killed")
    sub.add_parser("purge", help="stop the world and delete all its state")
    sub.add_parser("status", help="state and readiness of every server")
    sub.add_parser("env", help="print shell exports for the Airflow CLI and clients")
    for name in ("start", "stop", "restart"):
        p = sub.add_parser(name, help=f"{name} one service (e.g. serving-us-west-2)")
        p.add_argument("service")
    args = parser.parse_args(argv)

    from localworld import controller
    from localworld.provision import ProvisionError
    from localworld.services import STAGES, airflow_env, client_env
    from localworld.settings import load_settings

    try:
        settings = load_settings(args.topology)
    except (TopologyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "up":
            stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
            unknown = [s for s in stages if s not in STAGES]
            if unknown:
                print(f"error: unknown stage(s) {unknown}; stages are {', '.join(STAGES)}", file=sys.stderr)
                return 2
            secrets = controller.up(settings, stages)
            _print_access(settings, secrets)
        elif args.command == "down":
            killed = controller.down(settings)
            if killed and args.strict:
                return 4
        elif args.command == "purge":
            controller.purge(settings)
        elif args.command == "status":
            rows = controller.status(settings)
            if not rows:
                print("world is not running")
                return 3
            for name, state, ready in rows:
                print(f"{name:26} {state:10} {'ready' if ready else 'NOT READY'}")
            from localworld.secrets import load_or_create_secrets

            _print_access(settings, load_or_create_secrets(settings.state_dir))
            return 0 if all(ready for _, _, ready in rows) else 1
        elif args.command == "env":
            from localworld.secrets import load_or_create_secrets

            secrets = load_or_create_secrets(settings.state_dir)
            env = airflow_env(settings, secrets) | client_env(settings, secrets)
            for key, value in sorted(env.items()):
                print(f"export {key}={shlex.quote(value)}")
        elif args.command == "stop":
            controller.stop_service(settings, args.service)
        elif args.command == "start":
            controller.start_service(settings, args.service)
        elif args.command == "restart":
            controller.stop_service(settings, args.service)
            controller.start_service(settings, args.service)
    except (controller.WorldError, ProvisionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_access(settings, secrets) -> None:
    topo = settings.topology
    print(
        f"""
Airflow UI      {settings.airflow_url}   (user: admin, password: {secrets.airflow_admin_password})
Prometheus      {topo.monitoring.prometheus_url}
Alertmanager    {topo.monitoring.alertmanager_url}
Pushgateway     {topo.monitoring.pushgateway_url}
PowerDNS API    {settings.pdns_api_url}   (DNS on {getattr(topo.traffic.backend, "nameserver", "-")})
MLflow          {", ".join(f"{r.name}={r.registry.uri}" for r in topo.regions)}
Serving         {", ".join(f"{r.name}={r.serving.endpoints[0]}" for r in topo.regions)}
Logs            {settings.logs_dir}"""
    )


if __name__ == "__main__":
    sys.exit(main())
