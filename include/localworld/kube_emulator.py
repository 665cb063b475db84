"""A small Kubernetes API emulator: apps/v1 Deployments and their /scale subresource.

There is no Kubernetes on the local machine, so one server stands in for every region's
cluster, each under ``/clusters/<region>`` (the kubernetes client appends API paths to the
kubeconfig's ``server``, so a path prefix works). Only what the failover and recovery DAGs use
is served: read a deployment, patch it (merge, strategic-merge or JSON patch), read/patch/
replace its scale, list a namespace's deployments. ``status`` follows ``spec`` after
``ready_delay`` seconds, like a controller that needs time to start pods.

A pod-template change (``kubectl rollout restart`` sets ``kubectl.kubernetes.io/restartedAt``)
may call an optional ``on_restart(cluster, namespace, name)`` hook (the world restarts that
region's serving process); the deployment is not ready again until the hook returns. Scaling a
deployment to 0 and back from 0 may call ``on_zero`` / ``on_unzero`` hooks the same way, keyed by
``cluster/namespace/name`` (the world stops and starts that region's serving: a drill scales its
serving to 0 the way production would).

kmock (installed) was considered: it is a pytest-oriented in-memory mock that treats every patch
as a plain dict merge and has no /scale semantics, status convergence or multi-cluster prefixes.

``python -m localworld.kube_emulator --port P --deployment us-west-2/ml-serving/model-server=2``
"""

from __future__ import annotations

import argparse
import copy
import logging
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RestartHook = Callable[[str, str, str], None]


class DeploymentSeed(NamedTuple):
    cluster: str
    namespace: str
    name: str
    replicas: int


@dataclass
class _Deployment:
    obj: dict[str, Any]
    settle_at: float = 0.0  # status reaches spec at this monotonic time
    before: dict[str, Any] = field(default_factory=dict)  # status shown until then
    hook_running: bool = False
    hook_error: str | None = None


def _status_body(code: int, reason: str, message: str, details: dict | None = None) -> JSONResponse:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    body |= {"reason": reason, "code": code, "details": details or {}}
    return JSONResponse(body, status_code=code)


class _Problem(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.response = _status_body(code, reason, message, details)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge is the same for the maps a Deployment patch touches)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):  # strategic-merge directives ($patch, $retainKeys...): not needed here
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: dict, ops: list) -> dict:
    """RFC 6902 add/replace/remove on object paths (enough for replicas and annotations)."""
    doc = copy.deepcopy(target)
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if op["op"] in ("add", "replace"):
            node[last] = op["value"]
        elif op["op"] == "remove":
            del node[last]
        else:
            raise _Problem(422, "Invalid", f"JSON patch op {op['op']!r} is not supported by the emulator")
    return doc


class KubeEmulator:
    def __init__(
        self,
        seeds: Iterable[DeploymentSeed],
        ready_delay: float = 1.0,
        on_restart: RestartHook | None = None,
        on_zero: RestartHook | None = None,
        on_unzero: RestartHook | None = None,
    ) -> None:
        self.ready_delay = ready_delay
        self.on_restart = on_restart
        self.on_zero, self.on_unzero = on_zero, on_unzero
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str], _Deployment] = {}
        for seed in seeds:
            obj = _new_deployment(seed)
            self._items[(seed.cluster, seed.namespace, seed.name)] = _Deployment(obj, before=obj["status"])
        self.app = self._build_app()

    # --- state ---------------------------------------------------------------------------------

    def _get(self, cluster: str, namespace: str, name: str) -> _Deployment:
        item = self._items.get((cluster, namespace, name))
        if item is None:
            raise _Problem(
                404,
                "NotFound",
                f'deployments.apps "{name}" not found',
                {"name": name, "group": "apps", "kind": "deployments"},
            )
        return item

    def _view(self, item: _Deployment) -> dict[str, Any]:
        obj = copy.deepcopy(item.obj)
        settled = time.monotonic() >= item.settle_at and not item.hook_running and item.hook_error is None
        if settled:
            replicas = obj["spec"]["replicas"]
            obj["status"] = _status(replicas, replicas, replicas, obj["metadata"]["generation"])
        else:
            obj["status"] = {**item.before, "observedGeneration": obj["metadata"]["generation"]}
            if item.hook_error:
                obj["status"]["conditions"] = [
                    {"type": "Progressing", "status": "False", "reason": "RestartFailed", "message": item.hook_error}
                ]
        return obj

    def _change(self, item: _Deployment, new_obj: dict[str, Any], cluster: str) -> None:
        old = item.obj
        template_changed = new_obj["spec"].get("template") != old["spec"].get("template")
        if new_obj["spec"] == old["spec"] and new_obj["metadata"] == old["metadata"]:
            return
        # Status seen until the change settles: the current one; a new template has no updated pods yet.
        item.before = self._view(item)["status"]
        if template_changed:
            item.before["updatedReplicas"] = 0
        new_obj["metadata"]["generation"] = old["metadata"]["generation"] + (new_obj["spec"] != old["spec"])
        new_obj["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
        item.obj = new_obj
        item.settle_at = time.monotonic() + self.ready_delay
        old_at = (old["spec"].get("template", {}).get("metadata", {}).get("annotations") or {}).get(RESTARTED_AT)
        new_at = (new_obj["spec"].get("template", {}).get("metadata", {}).get("annotations") or {}).get(RESTARTED_AT)
        was, now = old["spec"].get("replicas", 0), new_obj["spec"].get("replicas", 0)
        hook = None
        if new_at and new_at != old_at:
            hook = self.on_restart
        elif was > 0 and now == 0:
            hook = self.on_zero
        elif was == 0 and now > 0:
            hook = self.on_unzero
        if hook is not None:
            item.hook_running, item.hook_error = True, None
            meta = new_obj["metadata"]
            args = (hook, item, cluster, meta["namespace"], meta["name"])
            threading.Thread(target=self._run_hook, args=args, daemon=True).start()

    def _run_hook(self, hook: RestartHook, item: _Deployment, cluster: str, namespace: str, name: str) -> None:
        # Off the request thread: restarting a server takes seconds; readiness waits for it instead.
        error = None
        try:
            hook(cluster, namespace, name)
        except Exception as exc:  # noqa: BLE001 - reported in the deployment's status, not raised
            error = f"restart hook failed: {exc}"
            log.warning("%s/%s/%s: %s", cluster, namespace, name, error)
        with self._lock:
            item.hook_running, item.hook_error = False, error

    def _patch(self, request_type: str, base: dict, body: Any) -> dict:
        kind = request_type.split(";")[0].strip()
        if kind in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(body, dict):
                raise _Problem(400, "BadRequest", "a merge patch must be a JSON object")
            return merge_patch(base, body)
        if kind == "application/json-patch+json":
            if not isinstance(body, list):
                raise _Problem(400, "BadRequest", "a JSON patch must be a list of operations")
            try:
                return json_patch(base, body)
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise _Problem(422, "Invalid", f"JSON patch does not apply: {exc!r}") from exc
        raise _Problem(415, "UnsupportedMediaType", f"the emulator does not accept Content-Type {kind!r} for PATCH")

    # --- HTTP ----------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="multiregion kube emulator", docs_url=None, redoc_url=None, openapi_url=None)
        base = "/clusters/{cluster}/apis/apps/v1/namespaces/{namespace}/deployments"

        @app.exception_handler(_Problem)
        async def _problem(_: Request, exc: _Problem) -> JSONResponse:
            return exc.response

        @app.get("/healthz")
        def healthz() -> dict:
            return {"status": "ok", "clusters": sorted({c for c, _, _ in self._items})}

        @app.get("/clusters/{cluster}/version")
        def version(cluster: str) -> dict:
            return {"major": "1", "minor": "31", "gitVersion": "v1.31.0-multiregion-emulator", "platform": cluster}

        @app.get(base)
        def list_deployments(cluster: str, namespace: str) -> dict:
            with self._lock:
                items = [self._view(d) for (c, ns, _), d in self._items.items() if (c, ns) == (cluster, namespace)]
            return {"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": items}

        @app.post(base, status_code=201)
        async def create(cluster: str, namespace: str, request: Request) -> dict:
            """Create a Deployment (name and replicas from the body; 409 if it exists)."""
            body = await _json(request)
            name = ((body or {}).get("metadata") or {}).get("name")
            replicas = ((body or {}).get("spec") or {}).get("replicas", 1)
            if not isinstance(name, str) or not name or not isinstance(replicas, int) or replicas < 0:
                raise _Problem(422, "Invalid", "metadata.name and an integer spec.replicas >= 0 are required")
            with self._lock:
                if (cluster, namespace, name) in self._items:
                    raise _Problem(409, "AlreadyExists", f'deployments.apps "{name}" already exists')
                obj = _new_deployment(DeploymentSeed(cluster, namespace, name, replicas))
                obj["metadata"]["annotations"] = dict(body["metadata"].get("annotations") or {})
                self._items[(cluster, namespace, name)] = _Deployment(obj, before=obj["status"])
                return self._view(self._items[(cluster, namespace, name)])

        @app.delete(base + "/{name}")
        def delete(cluster: str, namespace: str, name: str) -> dict:
            with self._lock:
                self._get(cluster, namespace, name)
                del self._items[(cluster, namespace, name)]
            return {"kind": "Status", "apiVersion": "v1", "status": "Success"}

        @app.get(base + "/{name}")
        @app.get(base + "/{name}/status")
        def read(cluster: str, namespace: str, name: str) -> dict:
            with self._lock:
                return self._view(self._get(cluster, namespace, name))

        @app.patch(base + "/{name}")
        async def patch(cluster: str, namespace: str, name: str, request: Request) -> dict:
            body = await _json(request)
            with self._lock:
                item = self._get(cluster, namespace, name)
                new = self._patch(request.headers.get("content-type", ""), item.obj, body)
                new = _keep_identity(new, item.obj)
                self._change(item, new, cluster)
                return self._view(item)

        @app.get(base + "/{name}/scale")
        def read_scale(cluster: str, namespace: str, name: str) -> dict:
            with self._lock:
                return _scale_of(self._view(self._get(cluster, namespace, name)))

        @app.patch(base + "/{name}/scale")
        @app.put(base + "/{name}/scale")
        async def write_scale(cluster: str, namespace: str, name: str, request: Request) -> dict:
            body = await _json(request)
            with self._lock:
                item = self._get(cluster, namespace, name)
                current = _scale_of(self._view(item))
                if request.method == "PUT":
                    new_scale = body
                else:
                    new_scale = self._patch(request.headers.get("content-type", ""), current, body)
                replicas = (new_scale.get("spec") or {}).get("replicas") if isinstance(new_scale, dict) else None
                if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                    raise _Problem(422, "Invalid", f"spec.replicas must be an integer >= 0, got {replicas!r}")
                new = copy.deepcopy(item.obj)
                new["spec"]["replicas"] = replicas
                self._change(item, new, cluster)
                return _scale_of(self._view(item))

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        def unknown(path: str) -> JSONResponse:
            return _status_body(404, "NotFound", f"the server could not find the requested resource (/{path})")

        return app


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise _Problem(400, "BadRequest", f"body is not JSON: {exc}") from exc


def _keep_identity(new: dict, old: dict) -> dict:
    """Name, namespace, uid and status are not writable through a patch of the main resource."""
    new["metadata"] = {**new.get("metadata", {}), **{k: old["metadata"][k] for k in ("name", "namespace", "uid")}}
    new["status"] = old["status"]
    return new


def _status(replicas: int, ready: int, updated: int, generation: int) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
    }


def _new_deployment(seed: DeploymentSeed) -> dict[str, Any]:
    labels = {"app": seed.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": seed.name,
            "namespace": seed.namespace,
            "uid": str(uuid.uuid4()),
            "generation": 1,
            "resourceVersion": "1",
            "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "labels": labels,
        },
        "spec": {
            "replicas": seed.replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": seed.name, "image": "multiregion/serving:local"}]},
            },
        },
        "status": _status(seed.replicas, seed.replicas, seed.replicas, 1),
    }


def _scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
        "spec": {"replicas": obj["spec"]["replicas"]},
        "status": {
            "replicas": obj["status"].get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in obj["spec"]["selector"]["matchLabels"].items()),
        },
    }


def seeds_from_topology(topology: Any) -> list[DeploymentSeed]:
    """One deployment per region (cluster = region name), starting at min_replicas."""
    return [
        DeploymentSeed(r.name, r.kubernetes.namespace, r.kubernetes.deployment, r.kubernetes.min_replicas)
        for r in topology.regions
    ]


def command_hook(templates: dict[str, list[str]], timeout: float = 120) -> RestartHook:
    """A hook running ``templates[cluster/namespace/name]``, else ``templates[cluster]`` (argv;
    {cluster} {namespace} {deployment} filled in)."""

    def run(cluster: str, namespace: str, name: str) -> None:
        argv = templates.get(f"{cluster}/{namespace}/{name}") or templates.get(cluster) or templates.get("*")
        if not argv:
            return
        argv = [a.format(cluster=cluster, namespace=namespace, deployment=name) for a in argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-300:]
            raise RuntimeError(f"{shlex.join(argv)} exited {result.returncode}: {output}")

    return run


def _parse_seed(text: str) -> DeploymentSeed:
    try:
        path, replicas = text.rsplit("=", 1)
        cluster, namespace, name = path.split("/")
        return DeploymentSeed(cluster, namespace, name, int(replicas))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected CLUSTER/NAMESPACE/NAME=REPLICAS, got {text!r}") from exc


def _parse_hook(text: str) -> tuple[str, list[str]]:
    cluster, sep, command = text.partition("=")
    if not sep or not command.strip():
        raise argparse.ArgumentTypeError(f"expected CLUSTER=COMMAND (or *=COMMAND), got {text!r}")
    return cluster, shlex.split(command)


@contextmanager
def emulator_process(port: int, seeds: Iterable[DeploymentSeed], *extra: str, timeout: float = 60) -> Iterator[str]:
    """The emulator in a subprocess on ``port`` (tests and benchmarks, never the world's); yields
    its URL once it answers, and stops it on exit. ``extra``: more command-line options."""
    import sys

    import httpx

    from multiregion import PROJECT_ROOT

    argv = [sys.executable, "-m", "localworld.kube_emulator", "--port", str(port), *extra]
    for seed in seeds:
        argv += ["--deployment", f"{seed.cluster}/{seed.namespace}/{seed.name}={seed.replicas}"]
    proc = subprocess.Popen(argv, env={"PYTHONPATH": str(PROJECT_ROOT / "include"), "PATH": "/usr/bin:/bin"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"kube emulator exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kube emulator did not answer on {url} within {timeout:.0f}s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="kube_emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--deployment", type=_parse_seed, action="append", default=[], metavar="C/NS/NAME=N")
    parser.add_argument("--ready-delay", type=float, default=1.0)
    parser.add_argument("--on-restart", type=_parse_hook, action="append", default=[], metavar="CLUSTER=COMMAND")
    parser.add_argument("--on-zero", type=_parse_hook, action="append", default=[], metavar="C/NS/NAME=COMMAND")
    parser.add_argument("--on-unzero", type=_parse_hook, action="append", default=[], metavar="C/NS/NAME=COMMAND")
    args = parser.parse_args(argv)

    def hook(pairs):  # zero and unzero hooks only for the deployments named (never a cluster-wide one)
        return command_hook(dict(pairs)) if pairs else None

    emulator = KubeEmulator(
        args.deployment,
        ready_delay=args.ready_delay,
        on_restart=hook(args.on_restart),
        on_zero=hook(args.on_zero),
        on_unzero=hook(args.on_unzero),
    )
    uvicorn.run(emulator.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
