"""The parts of a cluster the harness plays: the API server double's control interface, kubelet
(one network namespace or CRI sandbox per pod), Multus (real CNI plugins, network-status) and the
agents. Everything made is registered with a Cleanup so it goes away even on failure or Ctrl-C.
"""

import copy
import http.client
import json
import os
import signal
import subprocess
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
PY = "/usr/bin/python3"  # Debian's, with yaml and grpc
CNI_BIN = "/usr/lib/cni"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"


class HarnessError(Exception):
    """A scenario the harness cannot set up: bad scenario file, failing plugin or double."""


def sh(*argv, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise HarnessError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                (p.stderr or p.stdout).strip()))
    return p


class Cleanup:
    """A stack of undo actions, run last-in first-out; one failing does not stop the rest."""

    def __init__(self):
        self._stack = []
        self.problems = []

    def push(self, what, fn, *args):
        self._stack.append((what, fn, args))

    def run(self):
        """Runs every action; a Ctrl-C or SIGTERM meanwhile does not cut the cleanup short but is
        raised again once it is done, so the caller stops as it would have."""
        pending = []
        saved = {sig: signal.signal(sig, lambda signum, frame: pending.append(signum))
                 for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._run()
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])  # the caller's own handler acts on it now

    def _run(self):
        while self._stack:
            what, fn, args = self._stack.pop()
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 -- keep undoing the rest
                self.problems.append("cleanup %s: %s" % (what, e))


def is_alive(pid):
    """True while pid runs; a zombie (state Z) counts as gone (PID 1 reaps lazily)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_process(proc, timeout=5.0):
    """SIGTERM, then SIGKILL, to this one process (by PID) and its session."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # started with start_new_session: its group is its own
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass


def start_daemon(argv, log_path, env=None):
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    finally:
        log.close()


def wait_for(cond, timeout, what, proc=None):
    end = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise HarnessError("%s: exited with code %d" % (what, proc.returncode))
        if time.monotonic() > end:
            raise HarnessError("%s: not ready after %.0f s" % (what, timeout))
        time.sleep(0.02)


def obj_key(obj):
    md = obj.get("metadata") or {}
    return obj.get("kind"), md.get("namespace") or "_", md.get("name")


class ApiServer:
    """The API server double and its plain-HTTP control interface."""

    def __init__(self, script, workdir, log_path, cleanup):
        self.dir = os.path.join(workdir, "apiserver")
        os.makedirs(self.dir)
        self.proc = start_daemon([PY, script, "--dir", self.dir], log_path)
        cleanup.push("API server double (pid %d)" % self.proc.pid, stop_process, self.proc)
        ready = os.path.join(self.dir, "ready")
        wait_for(lambda: os.path.exists(ready), 15, "API server double", self.proc)
        with open(os.path.join(self.dir, "control-port")) as f:
            self.control_port = int(f.read().strip())
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")

    def _call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            text = r.read().decode()
            return r.status, (json.loads(text) if text.strip() else None)
        finally:
            c.close()

    def put(self, obj):
        status, stored = self._call("PUT", "/objects", obj)
        if status // 100 != 2:
            raise HarnessError("API server refused %s %s/%s: HTTP %d %s" % (obj_key(obj) + (status, stored)))
        return stored

    def get(self, kind, ns, name):
        status, obj = self._call("GET", "/objects/%s/%s/%s" % (kind, ns or "_", name))
        return obj if status == 200 else None

    def list_all(self):
        """Every object, as `kubectl get ... -o json` would give them (a List)."""
        status, body = self._call("GET", "/list")
        if status != 200:
            raise HarnessError("API server double: GET /list: HTTP %d" % status)
        return body

    def delete(self, kind, ns, name):
        status, body = self._call("DELETE", "/objects/%s/%s/%s" % (kind, ns or "_", name))
        if status // 100 != 2 and status != 404:
            raise HarnessError("API server refused to delete %s %s/%s: HTTP %d %s"
                               % (kind, ns, name, status, body))


def control_plane_pids(folder):
    """The PIDs scripts/control-plane start wrote into folder, remembered in case the folder goes."""
    pids = []
    for name in ("etcd.pid", "kube-apiserver.pid"):
        try:
            with open(os.path.join(folder, name)) as f:
                pids.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    return pids


def stop_control_plane_leftovers(folder, pids):
    """SIGKILL to each remembered PID still running a program of this folder (the stop command
    finds nothing to stop when the folder was removed under it)."""
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if (folder + "/").encode() not in f.read() or not is_alive(pid):
                    continue
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class RealApiServer:
    """A real control plane (scripts/control-plane: etcd, kube-apiserver with RBAC) with the same
    put/get/delete as the double, through kubectl. deploy/'s CRDs and RBAC are applied and the
    agents run as the DaemonSet's ServiceAccount, with a token from `kubectl create token`. The
    harness plays the controllers the server lacks: each namespace gets its "default"
    ServiceAccount; pods are deleted gracefully, then with grace 0 as kubelet does; a deleted
    namespace is finalized as the namespace controller does once its contents are gone."""

    RESOURCES = {"Namespace": "namespaces", "Pod": "pods",
                 "NetworkAttachmentDefinition": "network-attachment-definitions.k8s.cni.cncf.io",
                 "MultiNetworkPolicy": "multi-networkpolicies.k8s.cni.cncf.io"}
    SA = ("kube-system", "multi-networkpolicy-nftables")

    def __init__(self, workdir, log_path, cleanup):
        self.dir = os.path.join(workdir, "apiserver")
        script = os.path.join(REPO, "scripts", "control-plane")
        p = subprocess.run([script, "start", self.dir], capture_output=True, text=True)
        self.pids = control_plane_pids(self.dir)
        cleanup.push("control plane", self._stop, script, log_path)
        if p.returncode != 0:
            raise HarnessError("scripts/control-plane start: %s" % (p.stderr or p.stdout).strip()[-2000:])
        with open(os.path.join(self.dir, "env")) as f:
            self.env = dict(line.split("=", 1) for line in f.read().split())
        for f in ("crds/crd-multi-networkpolicy.yaml", "crds/crd-network-attachment-definition.yaml",
                  "base/rbac.yaml"):
            self.kubectl("apply", "-f", os.path.join(REPO, "deploy", f))
        self.kubectl("wait", "--for=condition=Established", "--timeout=30s",
                     "crd/" + self.RESOURCES["MultiNetworkPolicy"],
                     "crd/" + self.RESOURCES["NetworkAttachmentDefinition"])
        self._service_account("default")
        token = self.kubectl("create", "token", self.SA[1], "-n", self.SA[0], "--duration=2h").stdout.strip()
        self.kubeconfig = os.path.join(self.dir, "agent.kubeconfig")
        with open(self.kubeconfig, "w") as f:  # block YAML: the agent's reader takes no flow style
            f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                    "    server: %s\n    certificate-authority: %s\nusers:\n- name: sa\n  user:\n"
                    "    token: %s\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: sa\n"
                    "current-context: c\n" % (self.env["SERVER"], self.env["CA_FILE"], token))

    def _stop(self, script, log_path):
        try:
            sh(script, "stop", self.dir)
        finally:
            stop_control_plane_leftovers(self.dir, self.pids)
            for name in ("kube-apiserver.log", "etcd.log"):
                src = os.path.join(self.dir, name)
                if os.path.exists(src):
                    with open(src, "rb") as f, open(log_path, "ab") as out:
                        out.write(("=== %s\n" % name).encode() + f.read())

    def kubectl(self, *args, stdin=None, check=True):
        argv = [self.env["KUBECTL"], "--kubeconfig", self.env["KUBECONFIG"],
                "--cache-dir", os.path.join(self.dir, "kube-cache")] + list(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise HarnessError("kubectl %s: exit %d: %s" % (" ".join(args[:3]), p.returncode,
                                                            (p.stderr or p.stdout).strip()))
        return p

    def _service_account(self, ns):
        p = self.kubectl("create", "serviceaccount", "default", "-n", ns, check=False)
        if p.returncode != 0 and "already exists" not in p.stderr.lower():
            raise HarnessError("ServiceAccount %s/default: %s" % (ns, p.stderr.strip()))

    def _where(self, kind, ns, name):
        args = [self.RESOURCES[kind], name]
        if kind != "Namespace":
            args += ["-n", ns]
        return args

    def get(self, kind, ns, name):
        p = self.kubectl("get", *self._where(kind, ns, name), "-o", "json", check=False)
        if p.returncode != 0:
            if "NotFound" in p.stderr:
                return None
            raise HarnessError("get %s %s/%s: %s" % (kind, ns, name, p.stderr.strip()))
        return json.loads(p.stdout)

    def list_all(self):
        """Every object of the four kinds, as `kubectl get -A -o json` gives them (a List)."""
        return json.loads(self.kubectl("get", ",".join(self.RESOURCES[k] for k in sorted(self.RESOURCES)),
                                       "-A", "-o", "json").stdout)

    def put(self, obj):
        kind, ns, name = obj_key(obj)
        if kind == "Pod":
            return self._put_pod(obj, ns, name)
        body = {k: v for k, v in obj.items() if k != "status"}
        stored = json.loads(self.kubectl("apply", "--server-side", "--force-conflicts",
                                         "--field-manager=e2e", "-o", "json", "-f", "-",
                                         stdin=json.dumps(body)).stdout)
        if kind == "Namespace":
            self._service_account(name)
        return stored

    def _put_pod(self, obj, ns, name):
        """Created from its spec; later writes change labels and annotations (a pod's spec is
        immutable) and the status through the status subresource, as kubelet and Multus do."""
        old = self.get("Pod", ns, name)
        if old is None:
            body = copy.deepcopy(obj)
            body.pop("status", None)
            body["metadata"].pop("uid", None)
            for c in (body.get("spec") or {}).get("containers") or []:
                c.setdefault("image", "registry.k8s.io/pause:3.10")  # required; scenarios omit it
            old = json.loads(self.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(body)).stdout)
        md, omd = obj.get("metadata") or {}, old["metadata"]
        patch = {}
        for field in ("labels", "annotations"):
            want, have = md.get(field) or {}, omd.get(field) or {}
            diff = {k: v for k, v in want.items() if have.get(k) != v}
            diff.update({k: None for k in have if k not in want})
            if diff:
                patch[field] = diff
        stored = old
        if patch:
            stored = json.loads(self.kubectl("patch", "pod", name, "-n", ns, "--type=merge", "-o", "json",
                                             "-p", json.dumps({"metadata": patch})).stdout)
        status = obj.get("status") or {}
        if status and status.get("phase") != "Pending":
            stored = json.loads(self.kubectl("patch", "pod", name, "-n", ns, "--subresource=status",
                                             "--type=merge", "-o", "json",
                                             "-p", json.dumps({"status": status})).stdout)
        return stored

    def delete(self, kind, ns, name):
        where = self._where(kind, ns, name)
        self.kubectl("delete", *where, "--wait=false", "--ignore-not-found")
        if kind == "Pod":  # kubelet's part: once the containers are gone, grace 0
            self.kubectl("delete", *where, "--grace-period=0", "--force", "--ignore-not-found")
        elif kind == "Namespace":
            stored = self.get(kind, ns, name)
            if stored is not None:
                stored.setdefault("spec", {})["finalizers"] = []
                self.kubectl("replace", "--raw", "/api/v1/namespaces/%s/finalize" % name, "-f", "-",
                             stdin=json.dumps(stored))


class Segments:
    """Parent links of the harness's own: one L2 segment per CNI plugin type. macvlan and other
    parent-based plugins get a veth pair with both ends up; the bridge plugin its own bridge."""

    def __init__(self, prefix, cleanup):
        self.prefix = prefix  # short: link names are at most 15 bytes
        self.links = {}
        cleanup.push("parent links", self.remove_all)

    def remove_all(self):
        for name in self.links.values():
            if os.path.exists("/sys/class/net/" + name):
                sh("ip", "link", "del", name)
        self.links = {}

    def parent_for(self, plugin):
        if plugin not in self.links:
            n = len(self.links)
            if plugin == "bridge":
                name = "%sb%d" % (self.prefix, n)  # made by the bridge plugin itself on first ADD
            else:
                name = "%sp%d" % (self.prefix, n)
                self.links[plugin] = name
                sh("ip", "link", "add", name, "type", "veth", "peer", "name", name + "x")
                sh("ip", "link", "set", name + "x", "up")
                sh("ip", "link", "set", name, "up")
            self.links[plugin] = name
        return self.links[plugin]


def parse_networks(pod):
    """The pod's network selection annotation as [{namespace, name, interface, ips, mac}]."""
    md = pod["metadata"]
    text = (md.get("annotations") or {}).get(NETWORKS, "")
    if not isinstance(text, str):
        raise HarnessError("pod %s/%s: annotation %s is not a string" % (md["namespace"], md["name"], NETWORKS))
    text = text.strip()
    out = []
    if not text:
        return out
    if text.startswith("["):
        try:
            entries = json.loads(text)
        except ValueError as e:
            raise HarnessError("pod %s/%s: annotation %s: %s" % (md["namespace"], md["name"], NETWORKS, e))
        for e in entries:
            out.append({"namespace": e.get("namespace") or md["namespace"], "name": e["name"],
                        "interface": e.get("interface"), "ips": e.get("ips"), "mac": e.get("mac")})
    else:
        for item in text.split(","):
            item = item.strip()
            ifname = None
            if "@" in item:
                item, ifname = item.split("@", 1)
            ns, _, name = item.rpartition("/")
            out.append({"namespace": ns or md["namespace"], "name": name, "interface": ifname,
                        "ips": None, "mac": None})
    for i, e in enumerate(out):
        e["interface"] = e["interface"] or "net%d" % (i + 1)
    return out


class Pod:
    def __init__(self, manifest, node):
        md = manifest["metadata"]
        self.ns = md.get("namespace") or "default"
        self.name = md["name"]
        self.key = "%s/%s" % (self.ns, self.name)
        self.node = node
        self.manifest = manifest
        self.uid = None
        self.sandbox = None  # runtime's sandbox (id, netns path)
        self.attachments = []  # [{network: "ns/nad", interface, conf, result, ips, mac}]
        self.listeners = None
        self.primary = None  # the runtime's own network, for network-status (default: true)
        self.container_ids = {}

    @property
    def nspath(self):
        return self.sandbox["netns"]

    def addresses(self, network=None, family=None):
        out = []
        for a in self.attachments:
            if network is None or a["network"] == network:
                out += [ip for ip in a["ips"] if family is None or (":" in ip) == (family == 6)]
        return out


class Multus:
    """Attaches a pod's networks with the real CNI plugins and reports them as Multus does."""

    OUR_PLUGIN = "multi-networkpolicy-cni"

    def __init__(self, workdir, segments, nads, agent_binary=None):
        self.datadir = os.path.join(workdir, "host-local")
        self.confdir = os.path.join(workdir, "cni")
        os.makedirs(self.confdir, exist_ok=True)
        self.segments = segments
        self.nads = nads  # "ns/name" -> manifest, kept current by the caller
        # the project's chained plugin, installed as a node installs it: a link by its name
        self.bindir = os.path.join(workdir, "cni-bin")
        os.makedirs(self.bindir, exist_ok=True)
        os.symlink(agent_binary or os.path.join(REPO, "multi-networkpolicy-nftables"),
                   os.path.join(self.bindir, self.OUR_PLUGIN))
        self.workdir = workdir

    def agent_socket(self, node):
        """Where the agent of node answers the chained plugin (--cni-socket)."""
        return os.path.join(self.workdir, "cni-agent-%s.sock" % node)

    def _conf(self, pod, sel):
        key = "%s/%s" % (sel["namespace"], sel["name"])
        nad = self.nads.get(key)
        if nad is None:
            raise HarnessError("pod %s: network %s: no such NetworkAttachmentDefinition" % (pod.key, key))
        try:
            raw = json.loads((nad.get("spec") or {}).get("config") or "{}")
        except ValueError as e:
            raise HarnessError("NetworkAttachmentDefinition %s: spec.config: %s" % (key, e))
        chained = []
        if raw.get("plugins"):
            conf = dict(raw["plugins"][0])
            conf.setdefault("cniVersion", raw.get("cniVersion", "0.3.1"))
            conf["name"] = raw.get("name", sel["name"])
            for p in raw["plugins"][1:]:  # run after the first, each with the previous result
                c = dict(p)
                c["cniVersion"], c["name"] = conf["cniVersion"], conf["name"]
                if c.get("type") == self.OUR_PLUGIN:
                    c.setdefault("agentSocket", self.agent_socket(pod.node))
                chained.append(c)
        else:
            conf = dict(raw)
        if "type" not in conf:
            raise HarnessError("NetworkAttachmentDefinition %s: spec.config has no plugin type" % key)
        conf.setdefault("name", sel["name"])
        conf.setdefault("cniVersion", "0.3.1")
        parent = self.segments.parent_for(conf["type"])
        if conf["type"] == "bridge":
            conf["bridge"] = parent
        else:
            conf["master"] = parent
        ipam = dict(conf.get("ipam") or {})
        if ipam.get("type") == "host-local":
            ipam["dataDir"] = self.datadir
        if ipam:
            conf["ipam"] = ipam
        runtime = {}
        if sel.get("ips"):
            runtime["ips"] = sel["ips"]
        if sel.get("mac"):
            runtime["mac"] = sel["mac"]
        if runtime:
            conf["runtimeConfig"] = runtime
        return key, [conf] + chained

    def _run(self, command, pod, ifname, conf):
        env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=pod.sandbox["id"],
                   CNI_NETNS=pod.nspath, CNI_IFNAME=ifname,
                   CNI_PATH="%s:%s" % (CNI_BIN, self.bindir),
                   CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
                            "K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s"
                            % (pod.ns, pod.name, pod.sandbox["id"], pod.uid))
        plugin = os.path.join(self.bindir if conf["type"] == self.OUR_PLUGIN else CNI_BIN,
                              conf["type"])
        p = subprocess.run([plugin], input=json.dumps(conf), capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise HarnessError("CNI %s %s for pod %s (%s): %s" % (conf["type"], command, pod.key, ifname,
                                                                 (p.stdout or p.stderr).strip()))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def attach(self, pod):
        for sel in parse_networks(pod.manifest):
            key, chain = self._conf(pod, sel)
            result = None
            for i, conf in enumerate(chain):  # a conflist: plugin by plugin, as the runtime does
                if i:
                    conf = dict(conf, prevResult=result)
                result = self._run("ADD", pod, sel["interface"], conf)
            conf = chain[0]
            att = {"network": key, "interface": sel["interface"], "conf": conf, "chain": chain,
                   "result": result, "ips": [], "mac": ""}
            pod.attachments.append(att)
            ifaces = result.get("interfaces") or []
            for i, itf in enumerate(ifaces):
                if itf.get("name") == sel["interface"] and itf.get("sandbox"):
                    att["mac"] = itf.get("mac", "")
                    att["ips"] = [ip["address"].split("/")[0] for ip in result.get("ips") or []
                                  if ip.get("interface") in (None, i)]
            with open(os.path.join(self.confdir, "%s-%s-%s.json" % (pod.ns, pod.name, sel["interface"])), "w") as f:
                json.dump({"conf": conf, "result": result}, f, indent=1)

    def detach(self, pod):
        """CNI DEL with prevResult, newest first, so host-local leases are released."""
        errors = []
        for att in reversed(pod.attachments):
            for conf in reversed(att.get("chain") or [att["conf"]]):
                try:
                    self._run("DEL", pod, att["interface"], dict(conf, prevResult=att["result"]))
                except HarnessError as e:
                    errors.append(str(e))
        pod.attachments = []
        if errors:
            raise HarnessError("; ".join(errors))

    @staticmethod
    def network_status(pod, primary=None):
        status = [primary] if primary else []
        for a in pod.attachments:
            status.append({"name": a["network"], "interface": a["interface"], "ips": a["ips"],
                           "mac": a["mac"], "default": False, "dns": {}})
        return json.dumps(status)


class NetnsRuntime:
    """Pods as plain network namespaces (`ip netns add`); each node's agent finds them through
    its own CRI double, whose state file is rewritten as pods come and go."""

    name = "netns"

    def __init__(self, prefix, workdir, logdir, nodes, cleanup, fake_cri, cri_args=()):
        self.prefix = prefix
        self.workdir = workdir
        self.cleanup = cleanup
        self.count = 0
        self.sandboxes = {node: [] for node in nodes}
        self.faults = {}
        self.sockets = {}
        for node in nodes:
            sock = os.path.join(workdir, "cri-%s.sock" % node)
            state = self._state_path(node)
            self._write(node)
            proc = start_daemon([PY, fake_cri, "--socket", sock, "--state", state] + list(cri_args),
                                os.path.join(logdir, "cri-%s.log" % node))
            cleanup.push("CRI double of %s (pid %d)" % (node, proc.pid), stop_process, proc)
            wait_for(lambda: os.path.exists(sock + ".ready"), 30, "CRI double of " + node, proc)
            self.sockets[node] = sock

    def _state_path(self, node):
        return os.path.join(self.workdir, "cri-%s.json" % node)

    def _write(self, node):
        tmp = self._state_path(node) + ".tmp"
        doc = {"sandboxes": self.sandboxes[node]}
        if self.faults.get(node):
            doc["fault"] = self.faults[node]
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.rename(tmp, self._state_path(node))  # the double re-reads it on every call

    def endpoint(self, node):
        return "unix://" + self.sockets[node]

    def set_fault(self, node, fault):
        """The node's CRI double injects this fault (tests/cri/fake_cri.py) until set to None."""
        self.faults[node] = fault
        self._write(node)

    def create(self, pod):
        self.count += 1
        name = "%s-%d" % (self.prefix, self.count)
        sb = {"id": uuid.uuid4().hex + uuid.uuid4().hex, "uid": pod.uid, "namespace": pod.ns,
              "name": pod.name, "netns": "/run/netns/" + name, "state": "ready", "flavor": "containerd",
              "nsname": name}
        pod.sandbox = sb  # first: an interrupted `ip netns add` is still removed
        sh("ip", "netns", "add", name)
        prepare_netns(sb["netns"])
        return None  # no primary network

    def publish(self, pod):
        """Tells the node's CRI double about the sandbox once its networks are attached."""
        self.sandboxes[pod.node].append({k: v for k, v in pod.sandbox.items() if k != "nsname"})
        self._write(pod.node)

    def remove(self, pod):
        sb = pod.sandbox
        self.sandboxes[pod.node] = [s for s in self.sandboxes[pod.node] if s["id"] != sb["id"]]
        self._write(pod.node)
        if os.path.exists(sb["netns"]):
            sh("ip", "netns", "del", sb["nsname"])
        pod.sandbox = None


def prepare_netns(path):
    """lo up and no duplicate address detection (addresses usable at once), before any ADD."""
    sh("nsenter", "--net=" + path, "sh", "-c",
       "ip link set lo up && echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad"
       " && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")


class Agent:
    """One agent per node, started in its own session; its log is appended across restarts."""

    def __init__(self, binary, node, kubeconfig, endpoint, args, log_path):
        self.argv = [binary, "--hostname-override=" + node, "--kubeconfig", kubeconfig,
                     "--container-runtime-endpoint", endpoint] + list(args)
        self.node = node
        self.log_path = log_path
        self.proc = None
        self.exits = []  # exit codes of runs that ended without being stopped
        self.peak_rss_kib = 0  # highest VmHWM seen over every run of this agent

    def sample_rss(self):
        """Folds the running agent's VmHWM (peak resident set, KiB) into peak_rss_kib."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            pass  # gone between poll() and open(): its last sample stands

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return
        with open(self.log_path, "a") as f:
            f.write("=== e2e: starting %s\n" % " ".join(self.argv))
        self.proc = start_daemon(self.argv, self.log_path)

    def stop(self):
        if self.proc is not None:
            self.sample_rss()
            how = "stopped"
            if self.proc.poll() is not None:
                self.exits.append(self.proc.returncode)
                how = "had exited by itself"
            stop_process(self.proc)
            with open(self.log_path, "a") as f:
                f.write("=== e2e: %s (exit %s)\n" % (how, self.proc.returncode))
            self.proc = None

    def kill(self):
        """SIGKILL, as the OOM killer or a node's crash would: no cleanup, tables as they are."""
        if self.proc is not None and self.proc.poll() is None:
            self.sample_rss()
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            with open(self.log_path, "a") as f:
                f.write("=== e2e: killed (SIGKILL)\n")
        self.proc = None

    def crashes(self):
        """Exit codes of runs that ended on their own (not stopped by the harness) since the
        last call."""
        if self.proc is not None and self.proc.poll() is not None:
            self.exits.append(self.proc.returncode)
            self.proc = None
        out, self.exits = self.exits, []
        return out

    def log_tail(self, lines=25):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read().splitlines()[-lines:]
        except OSError:
            return []
