#!/usr/bin/python3
"""Drives a real CRI runtime the way the kubelet does, for tests (Debian has no crictl).

  /usr/bin/python3 tests/containerd/cri_admin.py --socket SOCK COMMAND [ARGS]
    wait-ready [--timeout S]     until Version answers and RuntimeReady + NetworkReady are true
    version                      runtime name and version
    run --name N --namespace NS --uid U [--cgroup-parent P] [--attempt A] [--host-network]
                                 RunPodSandbox; prints the sandbox id
    stop ID | remove ID          StopPodSandbox / RemovePodSandbox
    list                         one JSON object per sandbox: id, uid, namespace, name, state
    info ID                      PodSandboxStatus(verbose) info["info"] (JSON)
    remove-all                   stop and remove every sandbox

Exit status 0 on success; errors go to stderr as "cri_admin: <call>: <grpc status>: <message>".
Generated protobuf modules live in a scratch folder removed at exit.
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CRI_PROTO_DIR = os.path.join(HERE, "..", "..", "src", "cri")


def scratch_dir(prefix):
    """A scratch folder named after this process; folders left by processes that were killed
    (no chance to clean up) are removed first."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists("/proc/" + pid):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix="%s%d-" % (prefix, os.getpid()))


def load_modules():
    """runtime_pb2 (the agent's src/cri/runtime.proto) and cri_admin_pb2 (what only tests call)."""
    scratch = scratch_dir("cri-admin-gen-")
    atexit.register(shutil.rmtree, scratch, True)
    subprocess.run(["protoc", "--python_out=" + scratch, "-I", CRI_PROTO_DIR, "-I", HERE,
                    os.path.join(CRI_PROTO_DIR, "runtime.proto"), os.path.join(HERE, "cri_admin.proto")],
                   check=True)
    sys.path.insert(0, scratch)
    import runtime_pb2
    import cri_admin_pb2
    return runtime_pb2, cri_admin_pb2


class Runtime:
    def __init__(self, socket_path, timeout=30.0):
        import grpc
        self.grpc = grpc
        self.rt, self.pb = load_modules()
        self.target = "unix://" + os.path.abspath(socket_path)
        self.timeout = timeout
        self.reconnect()

    def reconnect(self):
        """A fresh channel (after the runtime restarted)."""
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        self.channel = self.grpc.insecure_channel(self.target)

    def call(self, method, request, response_type):
        """One unary call of runtime.v1.RuntimeService, by its gRPC path."""
        stub = self.channel.unary_unary("/runtime.v1.RuntimeService/" + method,
                                        request_serializer=type(request).SerializeToString,
                                        response_deserializer=response_type.FromString)
        return stub(request, timeout=self.timeout)

    def version(self):
        return self.call("Version", self.rt.VersionRequest(version="v1"), self.rt.VersionResponse)

    def ready(self):
        st = self.call("Status", self.pb.StatusRequest(), self.pb.StatusResponse)
        conds = {c.type: c for c in st.status.conditions}
        ok = all(t in conds and conds[t].status for t in ("RuntimeReady", "NetworkReady"))
        why = "; ".join("%s=%s %s" % (c.type, c.status, c.message) for c in conds.values())
        return ok, why

    def run(self, name, namespace, uid, cgroup_parent="", attempt=0, host_network=False):
        pb = self.pb
        cfg = pb.PodSandboxConfig(
            metadata=self.rt.PodSandboxMetadata(name=name, namespace=namespace, uid=uid,
                                                attempt=attempt),
            hostname="" if host_network else name[:63],  # as the kubelet does
            labels={"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                    "io.kubernetes.pod.uid": uid},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=cgroup_parent,
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=pb.NamespaceOption(
                        network=pb.NODE if host_network else pb.POD,
                        pid=pb.CONTAINER, ipc=pb.POD))))
        r = self.call("RunPodSandbox", pb.RunPodSandboxRequest(config=cfg), pb.RunPodSandboxResponse)
        return r.pod_sandbox_id

    def stop(self, sid):
        self.call("StopPodSandbox", self.pb.StopPodSandboxRequest(pod_sandbox_id=sid),
                  self.pb.StopPodSandboxResponse)

    def remove(self, sid):
        self.call("RemovePodSandbox", self.pb.RemovePodSandboxRequest(pod_sandbox_id=sid),
                  self.pb.RemovePodSandboxResponse)

    def list(self):
        r = self.call("ListPodSandbox", self.rt.ListPodSandboxRequest(), self.rt.ListPodSandboxResponse)
        return [{"id": s.id, "uid": s.metadata.uid, "namespace": s.metadata.namespace,
                 "name": s.metadata.name,
                 "state": "ready" if s.state == self.rt.SANDBOX_READY else "notready"}
                for s in r.items]

    def info(self, sid):
        r = self.call("PodSandboxStatus", self.rt.PodSandboxStatusRequest(pod_sandbox_id=sid, verbose=True),
                      self.rt.PodSandboxStatusResponse)
        return r.info.get("info", "")


def main():
    ap = argparse.ArgumentParser(description="drive a CRI runtime like the kubelet")
    ap.add_argument("--socket", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait-ready")
    w.add_argument("--timeout", type=float, default=30)
    sub.add_parser("version")
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--namespace", required=True)
    r.add_argument("--uid", required=True)
    r.add_argument("--cgroup-parent", default="")
    r.add_argument("--attempt", type=int, default=0)
    r.add_argument("--host-network", action="store_true")
    for c in ("stop", "remove", "info"):
        sub.add_parser(c).add_argument("id")
    sub.add_parser("list")
    sub.add_parser("remove-all")
    args = ap.parse_args()

    rt = Runtime(args.socket)
    grpc = rt.grpc
    try:
        if args.cmd == "wait-ready":
            end = time.monotonic() + args.timeout
            why = "no answer"
            while time.monotonic() < end:
                try:
                    rt.version()
                    ok, why = rt.ready()
                    if ok:
                        return 0
                except grpc.RpcError as e:
                    why = "%s: %s" % (e.code().name, e.details())
                time.sleep(0.05)
            print("cri_admin: runtime not ready after %.0f s: %s" % (args.timeout, why),
                  file=sys.stderr)
            return 1
        if args.cmd == "version":
            v = rt.version()
            print(v.runtime_name, v.runtime_version, v.runtime_api_version)
        elif args.cmd == "run":
            print(rt.run(args.name, args.namespace, args.uid, args.cgroup_parent, args.attempt,
                         args.host_network))
        elif args.cmd == "stop":
            rt.stop(args.id)
        elif args.cmd == "remove":
            rt.remove(args.id)
        elif args.cmd == "list":
            for s in rt.list():
                print(json.dumps(s))
        elif args.cmd == "info":
            print(rt.info(args.id))
        elif args.cmd == "remove-all":
            for s in rt.list():
                rt.stop(s["id"])
                rt.remove(s["id"])
    except grpc.RpcError as e:
        print("cri_admin: %s: %s: %s" % (args.cmd, e.code().name, e.details()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
