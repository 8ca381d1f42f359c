"""What the tests against the real control plane (scripts/control-plane) share: kubectl, pods
made the way kubelet and Multus make them on real netns with macvlan interfaces (found by the
agent through the CRI double), the agent's probes, and waiting. Used by tests/t-control-plane and
tests/t-kube-real."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import cluster  # noqa: E402  (kubelet and Multus as the e2e harness plays them)

BIN = os.path.join(ROOT, "multi-networkpolicy-nftables")
CONTROL_PLANE = os.path.join(ROOT, "scripts", "control-plane")
NODE = "node-1"
SA = "system:serviceaccount:kube-system:multi-networkpolicy-nftables"


def wait_for(pred, timeout=20.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get(url):
    """(status, body) of a plain HTTP GET; (None, "") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return None, ""


def readyz(port):
    return http_get("http://127.0.0.1:%d/readyz" % port)[0]


def log_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def read_env(folder):
    """DIR/env of scripts/control-plane start, as a dict."""
    with open(os.path.join(folder, "env")) as f:
        return dict(line.split("=", 1) for line in f.read().split())


class Kubectl:
    def __init__(self, path, kubeconfig):
        self.argv = [path, "--kubeconfig", kubeconfig, "--cache-dir",
                     os.path.join(os.path.dirname(kubeconfig), "kube-cache")]

    def run(self, *args, stdin=None, check_rc=True):
        p = subprocess.run(self.argv + list(args), input=stdin, capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        if check_rc and p.returncode != 0:
            raise cluster.HarnessError("kubectl %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                                    p.stderr.strip()))
        return p

    def json(self, *args):
        return json.loads(self.run(*args, "-o", "json").stdout)


def pod_manifest(name, labels, ns="default"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "annotations": {cluster.NETWORKS: "macvlan-net"}},
            "spec": {"nodeName": NODE, "automountServiceAccountToken": False,
                     "containers": [{"name": "c", "image": "registry.invalid/pause:1"}]}}


def nft_table(pod):
    p = subprocess.run(["nsenter", "--net=" + pod.nspath, "nft", "list", "table", "inet",
                        "multi_networkpolicy"], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


class World:
    """Pods as kubelet and Multus make them, written to the real API server with kubectl."""

    def __init__(self, kubectl, work, cleanup, run):
        self.kubectl = kubectl
        self.segments = cluster.Segments(run, cleanup)
        self.runtime = cluster.NetnsRuntime(run, work, work, [NODE], cleanup,
                                            os.path.join(ROOT, "tests", "cri", "fake_cri.py"))
        self.nads = {}
        self.multus = cluster.Multus(work, self.segments, self.nads)
        self.pods = []
        cleanup.push("pods", self.remove_all)

    def apply(self, obj):
        self.kubectl.run("apply", "-f", "-", stdin=json.dumps(obj))
        if obj["kind"] == "NetworkAttachmentDefinition":
            self.nads["%s/%s" % (obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj

    def add_pod(self, manifest):
        """Created Pending (bound by spec.nodeName), sandbox and networks made, then the
        network-status annotation patched as Multus does and the status written as kubelet
        does, through the status subresource."""
        name = manifest["metadata"]["name"]
        ns = manifest["metadata"].get("namespace", "default")
        stored = json.loads(self.kubectl.run("create", "-o", "json", "-f", "-",
                                             stdin=json.dumps(manifest)).stdout)
        pod = cluster.Pod(stored, NODE)
        pod.uid = stored["metadata"]["uid"]
        self.pods.append(pod)
        self.runtime.create(pod)
        self.multus.attach(pod)
        self.runtime.publish(pod)
        self.kubectl.run("patch", "pod", name, "-n", ns, "--type=merge", "-p", json.dumps(
            {"metadata": {"annotations": {cluster.NETWORK_STATUS: self.multus.network_status(pod)}}}))
        self.kubectl.run("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p",
                         json.dumps({"status": {"phase": "Running",
                                                "podIP": "10.244.0.%d" % (len(self.pods) + 1),
                                                "podIPs": [{"ip": "10.244.0.%d" % (len(self.pods) + 1)}],
                                                "conditions": [{"type": "Ready", "status": "True"}]}}))
        return pod

    def finish_pod(self, pod):
        """What kubelet does once a pod's containers are gone: the sandbox and its networks go,
        then the pod is deleted with grace 0."""
        if pod.sandbox:
            self.multus.detach(pod)
            self.runtime.remove(pod)
        self.kubectl.run("delete", "pod", pod.name, "-n", pod.ns, "--grace-period=0", "--force",
                         "--ignore-not-found")
        self.pods = [p for p in self.pods if p is not pod]

    def remove_all(self):
        for pod in reversed(self.pods):
            if pod.sandbox:
                self.multus.detach(pod)
                self.runtime.remove(pod)
        self.pods = []


def agent_kubeconfig(path, env, token):
    """Block YAML, as kubeconfigs are written (the agent's reader takes no flow collections)."""
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                "    server: %s\n    certificate-authority: %s\nusers:\n- name: sa\n  user:\n"
                "    token: %s\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: sa\n"
                "current-context: c\n" % (env["SERVER"], env["CA_FILE"], token))
