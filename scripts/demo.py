#!/usr/bin/python3
"""make demo: the web-policy example on one machine, without a cluster.

Starts the API server double, creates the world of examples/web-policy-world.yaml and the policy
of examples/web-policy.yaml (pods are network namespaces whose interfaces the real macvlan CNI
plugin makes), runs the real agent, prints the nftables table it programmed in pod default/web
and a table of connections tried with real packets (expected and observed), then deletes and
re-applies the policy with kubectl and shows both again. Everything it made is removed at the
end, also on failure or Ctrl-C; the logs stay in build/demo/.

    /usr/bin/python3 scripts/demo.py [--agent PATH] [--logs DIR] [--no-pause] [--prefix NAME]

Exits 0 only when every connection did what the policy says. Needs root.
"""

import argparse
import concurrent.futures
import copy
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.dont_write_bytecode = True

import yaml  # noqa: E402

import cluster  # noqa: E402
import netprobe  # noqa: E402

NODE = "demo-node"
WORLD = "examples/web-policy-world.yaml"
POLICY = "examples/web-policy.yaml"
TABLE = ("inet", "multi_networkpolicy")
POLICED = "default/macvlan-network"
SIDE = "default/side-network"
CONVERGE_TIMEOUT = 10.0

# The connections tried, with what web-policy says about each: (from, to, port, network,
# allowed while the policy exists, why).
ROWS = [
    ("default/frontend", "default/web", 8080, POLICED, True, "from app=frontend (podSelector)"),
    ("default/remote", "default/web", 8080, POLICED, True, "from 10.0.0.0/8 (ipBlock)"),
    ("default/lab", "default/web", 8080, POLICED, False, "10.0.1.0/24 is the ipBlock's except"),
    ("default/outsider", "default/web", 8080, POLICED, False, "no rule matches the peer"),
    ("default/frontend", "default/web", 9090, POLICED, False, "only port 8080 is allowed in"),
    ("default/web", "database/db", 5432, POLICED, True, "to namespace name=database"),
    ("default/web", "default/cache", 5432, POLICED, False, "cache's namespace is not name=database"),
    ("default/outsider", "default/web", 8080, SIDE, True, "side-network is not in policy-for"),
    ("default/outsider", "default/frontend", 8080, POLICED, True, "no policy selects frontend"),
]


class DemoError(Exception):
    """Something the demo could not set up; the message says what."""


def say(text=""):
    print(text, flush=True)


def heading(text):
    say()
    say("== " + text)


def pause(opts, what):
    if opts.pause:
        try:
            input("\n-- press Enter to %s (Ctrl-C stops the demo and cleans up) " % what)
        except EOFError:
            opts.pause = False


def ensure_kubectl():
    """kubectl on PATH, else Debian's kubernetes-client, installed now."""
    found = shutil.which("kubectl")
    if found:
        return found
    say("kubectl is not on PATH: installing Debian's kubernetes-client (apt-get)")
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "kubernetes-client"]):
        p = subprocess.run(argv, capture_output=True, text=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if p.returncode != 0:
            raise DemoError("%s failed: %s" % (" ".join(argv), (p.stderr or p.stdout).strip()))
    found = shutil.which("kubectl")
    if not found:
        raise DemoError("kubernetes-client is installed but kubectl is not on PATH")
    return found


def pick_prefix():
    """mnd + 4 hex digits that no link or netns of this machine starts with."""
    taken = " ".join(os.listdir("/sys/class/net"))
    if os.path.isdir("/run/netns"):
        taken += " " + " ".join(os.listdir("/run/netns"))
    while True:
        prefix = "mnd%04x" % random.randrange(1 << 16)
        if prefix not in taken:
            return prefix


class Multus(cluster.Multus):
    """One L2 segment per network, not per plugin type: were side-network on net1's segment, web
    would answer ARP for its net1 address on net2 as well (Linux's weak host model), and packets
    for the policed address could enter through the unpoliced interface."""

    def _conf(self, pod, sel):
        key, chain = super()._conf(pod, sel)
        if "master" in chain[0]:  # the conflist's first plugin makes the interface
            chain[0]["master"] = self.segments.parent_for("%s %s" % (chain[0]["type"], key))
        return key, chain


class World:
    """The API server double, the CRI double, the pods (network namespaces attached by the real
    CNI plugin, reported as Multus does) and the agent, all undone by one Cleanup."""

    def __init__(self, opts, cleanup):
        self.opts = opts
        self.cleanup = cleanup
        self.workdir = tempfile.mkdtemp(prefix="mnp-demo-")
        cleanup.push("scratch folder", shutil.rmtree, self.workdir, True)
        self.pods = {}
        self.nads = {}
        self.segments = cluster.Segments(opts.prefix, cleanup)
        self.api = cluster.ApiServer(os.path.join(REPO, "tests", "apiserver", "apiserver.py"),
                                     self.workdir, os.path.join(opts.logs, "apiserver.log"), cleanup)
        if self.api.get("Namespace", "_", "default") is None:
            self.api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        self.runtime = cluster.NetnsRuntime(opts.prefix, self.workdir, opts.logs, [NODE], cleanup,
                                            os.path.join(REPO, "tests", "cri", "fake_cri.py"))
        self.multus = Multus(self.workdir, self.segments, self.nads)
        cleanup.push("pods", self.remove_pods)
        self.agent = None

    def create(self, obj):
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        if obj["kind"] != "Namespace":
            md.setdefault("namespace", "default")
        if obj["kind"] == "Pod":
            self.create_pod(obj)
            return
        self.api.put(obj)
        if obj["kind"] == "NetworkAttachmentDefinition":
            self.nads["%s/%s" % (md["namespace"], md["name"])] = obj

    def create_pod(self, obj):
        """As kubelet and Multus do: Pending, sandbox, CNI ADD per network, then Running with
        the network-status annotation."""
        obj.setdefault("spec", {})["nodeName"] = NODE
        obj["status"] = {"phase": "Pending"}
        stored = self.api.put(obj)
        pod = cluster.Pod(obj, NODE)
        pod.uid = (stored or {}).get("metadata", {}).get("uid") or str(uuid.uuid4())
        self.pods[pod.key] = pod
        self.runtime.create(pod)
        self.multus.attach(pod)
        self.runtime.publish(pod)
        self.api.put(self.running(pod))

    @staticmethod
    def running(pod):
        obj = copy.deepcopy(pod.manifest)
        md = obj["metadata"]
        md["uid"] = pod.uid
        md.setdefault("annotations", {})[cluster.NETWORK_STATUS] = cluster.Multus.network_status(pod)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        statuses = []
        for c in obj["spec"].get("containers") or []:
            cid = pod.container_ids.setdefault(c["name"], uuid.uuid4().hex + uuid.uuid4().hex)
            statuses.append({"name": c["name"], "containerID": "containerd://" + cid, "ready": True,
                             "started": True, "restartCount": 0, "image": c.get("image", ""),
                             "imageID": "", "state": {"running": {"startedAt": now}}})
        obj["status"] = {"phase": "Running", "hostIP": "127.0.0.1",
                         "conditions": [{"type": "Ready", "status": "True"}],
                         "containerStatuses": statuses}
        return obj

    def remove_pods(self):
        errors = []
        for pod in list(self.pods.values()):
            try:
                if pod.listeners is not None:
                    pod.listeners.close()
                    pod.listeners = None
                if pod.sandbox is not None:
                    try:
                        self.multus.detach(pod)
                    finally:
                        self.runtime.remove(pod)
            except Exception as e:  # noqa: BLE001 -- the other pods still go
                errors.append(str(e))
            self.pods.pop(pod.key, None)
        if errors:
            raise DemoError("; ".join(errors))

    def start_agent(self):
        args = ["--health-probe-bind-address=", "--metrics-bind-address="]  # empty: not served
        self.agent = cluster.Agent(self.opts.agent, NODE, self.api.kubeconfig,
                                   self.runtime.endpoint(NODE), args,
                                   os.path.join(self.opts.logs, "agent.log"))
        self.cleanup.push("agent", self.agent.stop)
        self.agent.start()
        return self.agent

    def agent_exited(self):
        p = self.agent.proc if self.agent else None
        return p is not None and p.poll() is not None

    # -- looking at a pod ---------------------------------------------------------------------
    def table(self, key):
        """The pod's `nft list table` text, or None when the table is absent."""
        p = cluster.sh("nsenter", "--net=" + self.pods[key].nspath, "nft", "list", "table", *TABLE,
                       check=False)
        return p.stdout if p.returncode == 0 else None

    def wait_table(self, key, present):
        """Seconds until the pod's table is present (or absent), or None after the timeout."""
        start = time.monotonic()
        while time.monotonic() - start < CONVERGE_TIMEOUT:
            if (self.table(key) is not None) == present:
                return time.monotonic() - start
            if self.agent_exited():
                raise DemoError("the agent exited with code %d (log: %s)"
                                % (self.agent.proc.returncode, self.agent.log_path))
            time.sleep(0.02)
        return None

    def address(self, key, network):
        addrs = self.pods[key].addresses(network, 4)
        if not addrs:
            raise DemoError("pod %s has no IPv4 address on %s" % (key, network))
        return addrs[0]

    # -- connections ---------------------------------------------------------------------------
    def try_connection(self, frm, to, port, network):
        """'allowed', 'denied', or what went wrong (a denial counts only if the listener answers
        from inside its own pod)."""
        src, dst = self.pods[frm], self.pods[to]
        dst_ip = self.address(to, network)
        if dst.listeners.errors:
            return "listener failed: " + "; ".join(dst.listeners.errors)
        ok, _ = netprobe.probe(src.nspath, "TCP", dst_ip, port, src=self.address(frm, network))
        if ok:
            return "allowed"
        self_ok, what = netprobe.probe(dst.nspath, "TCP", dst_ip, port)
        return "denied" if self_ok else "listener does not answer (%s)" % what

    def connections(self, expected, reasons=True):
        """Tries every row (in parallel, in rounds, until all are as expected or the timeout) and
        prints the table. expected: one bool per row; reasons: print each row's why. Returns the
        number of rows that differ."""
        for _, to, port, _, _, _ in ROWS:
            dst = self.pods[to]
            if dst.listeners is None:
                dst.listeners = netprobe.PodListeners(to, dst.nspath, dst.addresses())
            dst.listeners.ensure("TCP", port)
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(ROWS)) as pool:
            while True:
                observed = list(pool.map(lambda r: self.try_connection(r[0], r[1], r[2], r[3]), ROWS))
                same = [o == ("allowed" if e else "denied") for o, e in zip(observed, expected)]
                if all(same) or time.monotonic() - start >= CONVERGE_TIMEOUT:
                    break
                time.sleep(0.1)
        lines = [("from", "to", "port", "expected", "observed", "", "why" if reasons else "")]
        for row, want, got, ok in zip(ROWS, expected, observed, same):
            frm, to, port, network, _, why = row
            lines.append(("%s %s" % (frm, self.address(frm, network)),
                          "%s %s" % (to, self.address(to, network)), "TCP %d" % port,
                          "allowed" if want else "denied", got, "ok" if ok else "DIFFERS",
                          why if reasons else ""))
        print_columns(lines)
        bad = same.count(False)
        say("  %d of %d as expected (probing took %.1f s: a denial is no answer within %.0f s)"
            % (len(ROWS) - bad, len(ROWS), time.monotonic() - start, netprobe.PROBE_TIMEOUT))
        return bad


def show_world(world):
    lines = [("pod", "labels", "macvlan-network", "side-network")]
    for key, pod in world.pods.items():
        labels = ",".join("%s=%s" % kv for kv in sorted((pod.manifest["metadata"].get("labels") or {}).items()))
        lines.append((key, labels, " ".join(pod.addresses(POLICED)) or "-",
                      " ".join(pod.addresses(SIDE)) or "-"))
    print_columns(lines)
    say("  each pod is a network namespace; its macvlan interfaces were made by %s/macvlan"
        % cluster.CNI_BIN)


def print_columns(lines):
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        say(("  " + "  ".join(c.ljust(w) for c, w in zip(line, widths))).rstrip())


def command_lines(argv):
    """argv as one line per flag (a flag and its separate value stay together)."""
    lines = [os.path.relpath(argv[0], REPO)]
    for a in argv[1:]:
        if a.startswith("-") or lines[-1].count(" ") or not lines[-1].startswith("-"):
            lines.append(a)
        else:
            lines[-1] += " " + a
    return lines


def show_table(text):
    for line in text.rstrip("\n").splitlines():
        say("  | " + line)


def kubectl(world, binary, *args):
    argv = [binary, "--kubeconfig", world.api.kubeconfig] + list(args)
    say("  $ kubectl --kubeconfig %s %s" % (world.api.kubeconfig, " ".join(args)))
    p = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60)
    for line in (p.stdout + p.stderr).strip().splitlines():
        say(("    " + line).rstrip())
    if p.returncode != 0:
        raise DemoError("kubectl %s exited with code %d" % (" ".join(args), p.returncode))


def load(path):
    with open(os.path.join(REPO, path)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def run(opts, cleanup):
    kubectl_bin = ensure_kubectl()
    bad = 0
    say("multi-networkpolicy-nftables demo: the web-policy example on this machine, no cluster")
    say("  the API server is a test double; pods, CNI, nftables, packets and the agent are real")
    say("  logs: %s" % opts.logs)

    heading("1. The world (%s)" % WORLD)
    world = World(opts, cleanup)
    for obj in load(WORLD):
        world.create(obj)
    show_world(world)
    say("  policy (%s): web accepts TCP 8080 from app=frontend and from 10.0.0.0/8 except"
        % POLICY)
    say("  10.0.1.0/24, and may only open TCP 5432 to namespaces labelled name=database")
    for obj in load(POLICY):
        world.create(obj)

    heading("2. The agent")
    agent = world.start_agent()
    say("  $ " + " \\\n      ".join(command_lines(agent.argv)))
    say("  pid %d, log %s" % (agent.proc.pid, agent.log_path))
    took = world.wait_table("default/web", True)
    if took is None:
        raise DemoError("no nftables table in pod default/web after %.0f s (agent log: %s)"
                        % (CONVERGE_TIMEOUT, agent.log_path))
    say("  table programmed in pod default/web %.2f s after the agent started" % took)

    web_ns = world.pods["default/web"].nspath
    heading("3. The nftables table in pod default/web")
    say("  $ nsenter --net=%s nft list table %s %s" % ((web_ns,) + TABLE))
    first = world.table("default/web")
    show_table(first or "")

    heading("4. Connections with real packets, policy in place")
    bad += world.connections([r[4] for r in ROWS])

    if opts.pause:
        say("\n  the world stays up meanwhile; try in another terminal:")
        say("    kubectl --kubeconfig %s get pods,multi-networkpolicies -A" % world.api.kubeconfig)
        say("    nsenter --net=%s nft list ruleset" % web_ns)
    pause(opts, "delete the policy with kubectl")
    heading("5. kubectl deletes the policy")
    kubectl(world, kubectl_bin, "get", "pods,multi-networkpolicies", "-A")
    kubectl(world, kubectl_bin, "delete", "-f", POLICY)
    took = world.wait_table("default/web", False)
    if took is None:
        say("  DIFFERS: the table is still in pod default/web after %.0f s" % CONVERGE_TIMEOUT)
        bad += 1
    else:
        say("  table gone from pod default/web after %.2f s" % took)
    say("  connections without the policy (nothing is policed, so everything passes):")
    bad += world.connections([True] * len(ROWS), reasons=False)

    pause(opts, "apply the policy again with kubectl")
    heading("6. kubectl applies the policy again")
    kubectl(world, kubectl_bin, "apply", "-f", POLICY)
    took = world.wait_table("default/web", True)
    if took is None:
        say("  DIFFERS: no table in pod default/web after %.0f s" % CONVERGE_TIMEOUT)
        bad += 1
    else:
        again = world.table("default/web")
        say("  table back in pod default/web after %.2f s%s" %
            (took, ", identical to the one in 3." if again == first else ":"))
        if again != first:
            show_table(again or "")
    say("  connections with the policy back:")
    bad += world.connections([r[4] for r in ROWS])

    crashed = world.agent.crashes()
    if crashed:
        say("  DIFFERS: the agent exited by itself (code %s)" % ", ".join(map(str, crashed)))
        bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", default=os.path.join(REPO, "multi-networkpolicy-nftables"))
    ap.add_argument("--logs", default=os.path.join(REPO, "build", "demo"),
                    help="folder for the logs (emptied first; kept afterwards)")
    ap.add_argument("--no-pause", dest="pause", action="store_false",
                    help="do not wait for Enter between steps (the default when stdin is no terminal)")
    ap.add_argument("--prefix", help="name prefix of the links and network namespaces made "
                    "(default: mnd and 4 free hex digits)")
    opts = ap.parse_args()
    opts.pause = opts.pause and sys.stdin.isatty()
    if os.geteuid() != 0:
        sys.exit("demo: needs root (network namespaces, links, nftables)")
    opts.agent = os.path.abspath(opts.agent)
    if not os.access(opts.agent, os.X_OK):
        sys.exit("demo: agent %s is not an executable (build it with make)" % opts.agent)
    opts.prefix = opts.prefix or pick_prefix()
    if len(opts.prefix) > 9:
        sys.exit("demo: --prefix %r is longer than 9 characters (link names are at most 15)" % opts.prefix)
    opts.logs = os.path.abspath(opts.logs)
    shutil.rmtree(opts.logs, ignore_errors=True)
    os.makedirs(opts.logs)

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C cleans up even when started from a shell's background job, which ignores SIGINT
    signal.signal(signal.SIGINT, signal.default_int_handler)

    cleanup = cluster.Cleanup()
    rc = 1
    try:
        bad = run(opts, cleanup)
        heading("Result")
        if bad:
            say("  %d row(s) differ from what the policy says (logs: %s)" % (bad, opts.logs))
        else:
            say("  every connection did what web-policy says")
        rc = 1 if bad else 0
    except KeyboardInterrupt:
        say("\ndemo: interrupted")
        rc = 130
    except (DemoError, cluster.HarnessError, OSError, subprocess.SubprocessError) as e:
        say("\ndemo: FAILED: %s" % e)
        say("  logs: %s" % opts.logs)
    finally:
        cleanup.run()
        for problem in cleanup.problems:
            say("demo: " + problem)
            rc = rc or 1
        say("cleaned up: network namespaces, links and processes of this run are gone; logs in %s"
            % opts.logs)
    return rc


if __name__ == "__main__":
    sys.exit(main())
