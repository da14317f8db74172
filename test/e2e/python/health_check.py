"""Calls grpc.health.v1.Health/Check on an aWASM server with Python grpcio over real HTTP/2.

Stubs are generated at run time from the repo's proto/grpc/health/v1/health.proto with
grpcio-tools, so the server is checked by a client built outside the project's TypeScript.

usage: health_check.py TARGET [SERVICE ...]
  TARGET   host:port of the server (plaintext HTTP/2)
  SERVICE  service names to check; "" (the default) is the server as a whole

Prints one JSON object {service: status_name} and exits 0 when every service is SERVING,
1 when one is not, 2 when a call fails (its gRPC status code and message go to stderr).
"""

import importlib
import json
import pathlib
import shutil
import sys
import tempfile

import grpc
from grpc_tools import protoc

REPO = pathlib.Path(__file__).resolve().parents[3]
HEALTH_PROTO = REPO / "proto" / "grpc" / "health" / "v1" / "health.proto"
# The generated modules get a name of their own: under the proto's path they would be
# grpc/health/v1/*.py and clash with the installed `grpc` package.
MODULE = "awasm_e2e_health"


def generate_stubs(out_dir: pathlib.Path):
    shutil.copyfile(HEALTH_PROTO, out_dir / f"{MODULE}.proto")
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{out_dir}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"{MODULE}.proto",
        ]
    )
    if rc != 0:
        raise SystemExit(f"protoc failed with exit code {rc}")
    sys.path.insert(0, str(out_dir))
    return importlib.import_module(f"{MODULE}_pb2"), importlib.import_module(f"{MODULE}_pb2_grpc")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    target, services = argv[1], argv[2:] or [""]
    with tempfile.TemporaryDirectory() as tmp:
        pb2, pb2_grpc = generate_stubs(pathlib.Path(tmp))
        result = {}
        with grpc.insecure_channel(target) as channel:
            stub = pb2_grpc.HealthStub(channel)
            for service in services:
                try:
                    res = stub.Check(pb2.HealthCheckRequest(service=service), timeout=10)
                except grpc.RpcError as err:
                    print(f"{service!r}: {err.code().name}: {err.details()}", file=sys.stderr)
                    return 2
                result[service] = pb2.HealthCheckResponse.ServingStatus.Name(res.status)
    print(json.dumps(result))
    return 0 if all(status == "SERVING" for status in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
