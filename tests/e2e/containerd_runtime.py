"""Pods as real containerd sandboxes: one private containerd per node (tests/containerd/start DIR,
stop DIR), RunPodSandbox through CRI with the pod's uid, name and namespace, the netns path from
the verbose PodSandboxStatus. The agent of a node talks to that node's containerd."""

import json
import os
import subprocess
import sys
import tempfile
import time

import cluster
from cluster import HarnessError, sh

_pb = _pbg = None


def _load_stubs(cleanup):
    """runtime.v1 stubs generated from cri_sandbox.proto into a scratch folder: _pb2 with the
    system protoc, _pb2_grpc with grpc_tools (its bundled protoc is too old for _pb2)."""
    global _pb, _pbg
    if _pb is not None:
        return
    scratch = tempfile.mkdtemp(prefix="mnp-e2e-cri-")
    cleanup.push("generated CRI stubs", sh, "rm", "-rf", scratch)
    proto = os.path.join(cluster.HERE, "cri_sandbox.proto")
    sh("protoc", "--python_out=" + scratch, "-I", cluster.HERE, proto)
    sh(cluster.PY, "-m", "grpc_tools.protoc", "--grpc_python_out=" + scratch, "-I", cluster.HERE, proto)
    sys.path.insert(0, scratch)
    import cri_sandbox_pb2
    import cri_sandbox_pb2_grpc
    _pb, _pbg = cri_sandbox_pb2, cri_sandbox_pb2_grpc


def _socket_of(d):
    """The CRI socket a started containerd serves: DIR/address if the start script wrote one,
    else the one socket file in DIR."""
    addr = os.path.join(d, "address")
    if os.path.exists(addr):
        with open(addr) as f:
            return f.read().strip().replace("unix://", "")
    socks = [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".sock")]
    if len(socks) != 1:
        raise HarnessError("containerd in %s: cannot tell its socket (found %s)" % (d, socks or "none"))
    return socks[0]


class ContainerdRuntime:
    name = "containerd"

    def __init__(self, prefix, workdir, logdir, nodes, cleanup, scripts):
        import grpc
        _load_stubs(cleanup)
        self.prefix = prefix
        self.cgroup_parent = "/mnp-e2e-" + prefix
        self.sockets = {}
        self.stubs = {}
        self.count = 0
        cleanup.push("cgroup " + self.cgroup_parent, self._remove_cgroups)  # after containerd stops
        start = os.path.join(scripts, "start")
        stop = os.path.join(scripts, "stop")
        for node in nodes:
            d = os.path.join(workdir, "containerd-" + node)
            os.makedirs(d)
            cleanup.push("containerd of " + node, self._stop, stop, d, os.path.join(logdir, "containerd-%s.log" % node))
            with open(os.path.join(logdir, "containerd-%s.log" % node), "ab") as log:
                p = subprocess.run([start, d], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if p.returncode != 0:
                raise HarnessError("%s %s: exit %d (log: %s)" % (start, d, p.returncode, log.name))
            sock = _socket_of(d)
            self.sockets[node] = sock
            channel = grpc.insecure_channel("unix://" + sock)
            cleanup.push("CRI channel of " + node, channel.close)
            grpc.channel_ready_future(channel).result(timeout=30)
            self.stubs[node] = _pbg.RuntimeServiceStub(channel)

    @staticmethod
    def _stop(stop, d, log_path):
        with open(log_path, "ab") as log:
            p = subprocess.run([stop, d], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise HarnessError("%s %s: exit %d (log: %s)" % (stop, d, p.returncode, log_path))

    def _remove_cgroups(self):
        base = "/sys/fs/cgroup"
        for ctl in os.listdir(base):
            for path in (os.path.join(base, ctl, self.cgroup_parent.lstrip("/")),
                         os.path.join(base, self.cgroup_parent.lstrip("/"))):
                if os.path.isdir(path):
                    for sub, dirs, _ in sorted(os.walk(path), reverse=True):  # deepest first
                        os.rmdir(sub)

    def endpoint(self, node):
        return "unix://" + self.sockets[node]

    def create(self, pod):
        self.count += 1
        stub = self.stubs[pod.node]
        meta = _pb.PodSandboxMetadata(name=pod.name, uid=pod.uid, namespace=pod.ns, attempt=0)
        config = _pb.PodSandboxConfig(
            metadata=meta, hostname=pod.name[:63],
            labels={"io.kubernetes.pod.name": pod.name, "io.kubernetes.pod.namespace": pod.ns,
                    "io.kubernetes.pod.uid": pod.uid},
            linux=_pb.LinuxPodSandboxConfig(cgroup_parent=self.cgroup_parent))
        try:
            sid = stub.RunPodSandbox(_pb.RunPodSandboxRequest(config=config), timeout=60).pod_sandbox_id
        except Exception as e:  # grpc.RpcError
            raise HarnessError("RunPodSandbox for pod %s on %s: %s" % (pod.key, pod.node, e))
        pod.sandbox = {"id": sid, "netns": None}
        st = stub.PodSandboxStatus(_pb.PodSandboxStatusRequest(pod_sandbox_id=sid, verbose=True), timeout=30)
        try:
            info = json.loads(st.info["info"])
            path = [n.get("path") for n in info["runtimeSpec"]["linux"]["namespaces"] if n.get("type") == "network"][0]
        except (KeyError, IndexError, ValueError) as e:
            raise HarnessError("PodSandboxStatus of %s (pod %s): no netns path in verbose info (%s)" % (sid, pod.key, e))
        if not path:
            raise HarnessError("PodSandboxStatus of %s (pod %s): empty netns path" % (sid, pod.key))
        pod.sandbox["netns"] = path
        cluster.prepare_netns(path)
        ips = [st.status.network.ip] if st.status.network.ip else []
        ips += [x.ip for x in st.status.network.additional_ips]
        if not ips:
            return None
        return {"name": "e2e-primary", "interface": "eth0", "ips": ips, "mac": "", "default": True, "dns": {}}

    def publish(self, pod):
        pass  # containerd already lists the sandbox

    def remove(self, pod):
        stub = self.stubs[pod.node]
        sid = pod.sandbox["id"]
        try:
            stub.StopPodSandbox(_pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
            stub.RemovePodSandbox(_pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=60)
        except Exception as e:  # grpc.RpcError
            raise HarnessError("removing sandbox %s of pod %s: %s" % (sid, pod.key, e))
        finally:
            pod.sandbox = None
