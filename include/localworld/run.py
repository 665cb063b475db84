"""Exec shim used by supervisord: ``python -m localworld.run SPEC.json``.

supervisord's ``environment=`` cannot carry JSON values (connection URIs) safely, so each
service's argv, cwd and environment are written to a private spec file and applied here.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m localworld.run SPEC.json")
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    env = {**os.environ, **spec["env"]}
    if spec.get("cwd"):
        os.makedirs(spec["cwd"], exist_ok=True)
        os.chdir(spec["cwd"])
    os.execvpe(spec["argv"][0], spec["argv"], env)


if __name__ == "__main__":
    main()
