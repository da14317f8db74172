"""An independent gRPC client for the end-to-end test: Python grpcio over real HTTP/2.

Generates its stubs from proto/ at run time (grpc_tools.protoc), so it shares no code with the
server. Installs a package file by client streaming, calls SourceService, and prints one JSON
object with what it saw; the vitest test asserts on that. Exits non-zero on an unexpected error.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile

import grpc
import grpc_tools
from grpc_tools import protoc


def generate_stubs(proto_root: str, out_dir: str) -> None:
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = ["awasm/v1/media.proto", "awasm/v1/source_error.proto", "awasm/v1/source_health.proto", "awasm/v1/source_service.proto", "awasm/v1/plugin_service.proto"]
    code = protoc.main(["protoc", f"-I{proto_root}", f"-I{well_known}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *files])
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")


def status_of(call):
    try:
        call()
    except grpc.RpcError as error:
        return {"code": error.code().name, "message": error.details()}
    return {"code": "OK", "message": ""}


class BearerKey(grpc.UnaryUnaryClientInterceptor, grpc.StreamUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Sends `authorization: Bearer <key>` on every call, as a Dart or Python app with an API key does."""

    def __init__(self, key):
        self.metadata = (("authorization", f"Bearer {key}"),)

    def _with_key(self, details):
        metadata = tuple(details.metadata or ()) + self.metadata
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _Details(details, metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_key(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_key(details), requests)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_key(details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True, help="host:port of the awasm server")
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--package", help="a .awpkg file to install first")
    parser.add_argument("--bad-package", action="append", default=[], help="package files that must be refused")
    parser.add_argument("--source", default="demo-library")
    parser.add_argument("--query", required=True)
    parser.add_argument("--api-key", required=True, help="an admin's API key (installs need an admin)")
    args = parser.parse_args()

    out_dir = tempfile.mkdtemp(prefix="awasm-stubs-")
    generate_stubs(args.proto_root, out_dir)
    sys.path.insert(0, out_dir)
    source_pb = importlib.import_module("awasm.v1.source_service_pb2")
    source_grpc = importlib.import_module("awasm.v1.source_service_pb2_grpc")
    plugin_pb = importlib.import_module("awasm.v1.plugin_service_pb2")
    plugin_grpc = importlib.import_module("awasm.v1.plugin_service_pb2_grpc")
    media_pb = importlib.import_module("awasm.v1.media_pb2")

    report = {}
    with grpc.insecure_channel(args.target) as bare:
        grpc.channel_ready_future(bare).result(timeout=10)
        # without a key the server answers UNAUTHENTICATED
        report["no_key"] = status_of(lambda: source_grpc.SourceServiceStub(bare).ListSources(source_pb.ListSourcesRequest(), timeout=10))
        channel = grpc.intercept_channel(bare, BearerKey(args.api_key))
        plugins = plugin_grpc.PluginServiceStub(channel)
        sources = source_grpc.SourceServiceStub(channel)

        def upload(path):
            with open(path, "rb") as f:
                data = f.read()
            chunks = (plugin_pb.InstallRequest(chunk=data[i : i + 65536]) for i in range(0, len(data), 65536))
            return plugins.Install(chunks, timeout=120)

        if args.package:
            installed = upload(args.package).plugin
            report["installed"] = {"id": installed.id, "version": installed.version, "enabled": installed.enabled}

        before = [(p.id, p.version, p.package_sha256) for p in plugins.ListInstalled(plugin_pb.ListInstalledRequest()).plugins]
        report["refused_packages"] = [status_of(lambda p=path: upload(p)) for path in args.bad_package]
        after = [(p.id, p.version, p.package_sha256) for p in plugins.ListInstalled(plugin_pb.ListInstalledRequest()).plugins]
        report["installed_unchanged"] = before == after

        found = sources.Search(source_pb.SearchRequest(source_id=args.source, query=args.query), timeout=30)
        report["search"] = [{"id": m.id, "title": m.title, "kind": media_pb.MediaKind.Name(m.kind)} for m in found.items]
        if found.items:
            media_id = found.items[0].id
            units = sources.ListUnits(source_pb.ListUnitsRequest(source_id=args.source, media_id=media_id), timeout=30)
            report["units"] = [{"id": u.id, "title": u.title, "kind": media_pb.UnitKind.Name(u.kind)} for u in units.items]
            if units.items:
                assets = sources.GetAssets(source_pb.GetAssetsRequest(source_id=args.source, unit_id=units.items[0].id), timeout=30)
                report["assets"] = [
                    {"kind": media_pb.AssetKind.Name(a.kind), "index": a.index, "url": a.url, "text_length": len(a.text), "headers": {h.name: h.value for h in a.headers}}
                    for a in assets.assets
                ]

        report["errors"] = {
            "unknown_source": status_of(lambda: sources.Search(source_pb.SearchRequest(source_id="no-such-source", query="x"), timeout=10)),
            "empty_query": status_of(lambda: sources.Search(source_pb.SearchRequest(source_id=args.source, query="  "), timeout=10)),
            "unknown_media": status_of(lambda: sources.GetMedia(source_pb.GetMediaRequest(source_id=args.source, media_id="no-such-media"), timeout=10)),
            "unspecified_listing": status_of(lambda: sources.ListMedia(source_pb.ListMediaRequest(source_id=args.source), timeout=10)),
        }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
