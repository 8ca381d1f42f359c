"""Pods as real containerd sandboxes: one private containerd per node (tests/containerd/start DIR
[VERSION] and stop DIR; VERSION one of the pinned matrix, default the newest), RunPodSandbox through CRI with the pod's uid, name and namespace (as kubelet does,
with tests/containerd/cri_admin.py), the netns path from the verbose PodSandboxStatus. The agent
of a node talks to that node's containerd. stop(), start() and restart() do that to every
node's containerd (its sandboxes live on in their shims) under the running agents; recreate()
kills a pod's sandbox and makes a new one for the same pod."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import cluster
from cluster import HarnessError


def _read_env(path):
    """DIR/env of a started containerd: SOCKET=..., CGROUP_PARENT=..., one per line."""
    env = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep:
                env[key] = value
    return env


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class ContainerdRuntime:
    name = "containerd"

    def __init__(self, prefix, workdir, logdir, nodes, cleanup, scripts, version=None):
        start, stop = os.path.join(scripts, "start"), os.path.join(scripts, "stop")
        for script in (start, stop, os.path.join(scripts, "cri_admin.py")):
            if not os.path.exists(script):
                raise HarnessError("containerd runtime: %s is missing" % script)
        if scripts not in sys.path:
            sys.path.insert(0, scripts)
        import cri_admin
        self.env = {}
        self.cri = {}
        self.dirs = {}
        self.logs = {}
        self.down = set()  # nodes whose containerd a scenario stopped
        for node in nodes:
            d = os.path.join(workdir, "ctd-" + node)
            os.makedirs(d)
            log_path = os.path.join(logdir, "containerd-%s.log" % node)
            cleanup.push("containerd of " + node, self._stop, stop, d, log_path)
            self.dirs[node], self.logs[node] = d, log_path
            with open(log_path, "ab") as log:
                p = subprocess.run([start, d] + ([version] if version else []), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if p.returncode != 0:
                raise HarnessError("%s %s: exit %d (see %s)" % (start, d, p.returncode, log_path))
            self.env[node] = _read_env(os.path.join(d, "env"))
            self.cri[node] = cri_admin.Runtime(self.env[node]["SOCKET"])
            cleanup.push("CRI channel of " + node, lambda node=node: self.cri[node].channel.close())
        self.version = self.env[nodes[0]].get("VERSION", "")
        self.name = "containerd " + self.version

    def restart(self):
        """Every node's containerd stops and starts again (see stop and start)."""
        self.stop()
        self.start()

    def stop(self):
        """Every node's containerd gets SIGTERM (its sandboxes and their netns live on in their
        shims); CRI stays unreachable until start."""
        for node, d in self.dirs.items():
            with open(os.path.join(d, "containerd.pid")) as f:
                pid = int(f.read())
            os.kill(pid, signal.SIGTERM)
            end = time.monotonic() + 20
            while _alive(pid):
                if time.monotonic() > end:
                    raise HarnessError("containerd of %s (pid %d) did not stop within 20 s" % (node, pid))
                time.sleep(0.05)
            self.down.add(node)

    def start(self):
        """Every stopped containerd runs again with the command start wrote (containerd.cmd),
        until CRI answers ready."""
        for node in sorted(self.down):
            d = self.dirs[node]
            with open(os.path.join(d, "containerd.cmd")) as f:
                cmd = f.read().splitlines()
            with open(os.path.join(d, "containerd.log"), "ab") as log:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
            with open(os.path.join(d, "containerd.pid"), "w") as f:
                f.write("%d\n" % p.pid)
            self.down.discard(node)
            end = time.monotonic() + 30
            # A gRPC channel that dials before the socket is back backs off for seconds: wait.
            while not _accepts(self.env[node]["SOCKET"]):
                if p.poll() is not None or time.monotonic() > end:
                    raise HarnessError("containerd of %s did not listen again (see %s)" % (node, self.logs[node]))
                time.sleep(0.02)
            self.cri[node].reconnect()
            while True:
                try:
                    ok, why = self.cri[node].ready()
                except Exception as e:  # grpc.RpcError while the socket comes back
                    ok, why = False, str(e)
                if ok:
                    break
                if p.poll() is not None or time.monotonic() > end:
                    raise HarnessError("containerd of %s did not come back ready: %s (see %s)"
                                       % (node, why, self.logs[node]))
                time.sleep(0.05)

    @staticmethod
    def _stop(stop, d, log_path):
        own_log = os.path.join(d, "containerd.log")
        with open(log_path, "ab") as log:
            p = subprocess.run([stop, d], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if os.path.exists(own_log):  # containerd's own log, kept with the scenario's
                with open(own_log, "rb") as f:
                    log.write(b"=== containerd.log\n" + f.read())
        if p.returncode != 0:
            raise HarnessError("%s %s: exit %d (see %s)" % (stop, d, p.returncode, log_path))

    def endpoint(self, node):
        return "unix://" + self.env[node]["SOCKET"]

    def create(self, pod, attempt=0):
        if pod.node in self.down:
            raise HarnessError("pod %s: containerd of %s is stopped (runtime: start first)" % (pod.key, pod.node))
        cri = self.cri[pod.node]
        try:
            sid = cri.run(pod.name, pod.ns, pod.uid, cgroup_parent=self.env[pod.node]["CGROUP_PARENT"],
                          attempt=attempt)
        except Exception as e:  # grpc.RpcError
            raise HarnessError("RunPodSandbox for pod %s on %s: %s" % (pod.key, pod.node, e))
        pod.sandbox = {"id": sid, "netns": None, "attempt": attempt}
        try:
            info = json.loads(cri.info(sid))
            path = [n.get("path") for n in info["runtimeSpec"]["linux"]["namespaces"] if n.get("type") == "network"][0]
        except Exception as e:  # grpc.RpcError, or no such path in the document
            raise HarnessError("PodSandboxStatus of %s (pod %s): no netns path in verbose info (%s)" % (sid, pod.key, e))
        if not path:
            raise HarnessError("PodSandboxStatus of %s (pod %s): empty netns path" % (sid, pod.key))
        pod.sandbox["netns"] = path
        cluster.prepare_netns(path)
        eth0 = ((info.get("cniResult") or {}).get("Interfaces") or {}).get("eth0") or {}
        ips = [c["IP"] for c in eth0.get("IPConfigs") or [] if c.get("IP")]
        if not ips:
            return None
        return {"name": "mnp-primary", "interface": "eth0", "ips": ips, "mac": eth0.get("Mac", ""),
                "default": True, "dns": {}}

    def recreate(self, pod, multus):
        """The pod's sandbox dies and is made again, as the kubelet does it: the pause process is
        killed, and once containerd reports the sandbox not ready its networks are detached, it
        is stopped and removed, and a new sandbox for the same pod (same uid, attempt + 1, a new
        netns) gets them attached again (the same addresses where the pod asks for them). The
        API server is not written: the pod's network-status stays as it was."""
        cri = self.cri[pod.node]
        old = pod.sandbox["id"]
        try:
            pid = json.loads(cri.info(old))["pid"]
            os.kill(pid, signal.SIGKILL)
            end = time.monotonic() + 20
            while [s for s in cri.list() if s["id"] == old and s["state"] == "ready"]:
                if time.monotonic() > end:
                    raise HarnessError("pod %s: sandbox %s still ready 20 s after its pause process was killed"
                                       % (pod.key, old[:13]))
                time.sleep(0.02)
        except (OSError, KeyError, ValueError) as e:
            raise HarnessError("pod %s: killing the pause process of sandbox %s: %s" % (pod.key, old[:13], e))
        multus.detach(pod)
        try:
            cri.stop(old)
            cri.remove(old)
        except Exception as e:  # grpc.RpcError
            raise HarnessError("removing sandbox %s of pod %s: %s" % (old[:13], pod.key, e))
        pod.primary = self.create(pod, attempt=pod.sandbox["attempt"] + 1)
        multus.attach(pod)

    def publish(self, pod):
        pass  # containerd lists the sandbox from RunPodSandbox on

    def remove(self, pod):
        if self.down:  # a scenario that ended with the runtime stopped: kubelet would wait for it
            self.start()
        cri = self.cri[pod.node]
        sid = pod.sandbox["id"]
        try:
            cri.stop(sid)
            cri.remove(sid)
        except Exception as e:  # grpc.RpcError
            raise HarnessError("removing sandbox %s of pod %s: %s" % (sid, pod.key, e))
        finally:
            pod.sandbox = None
