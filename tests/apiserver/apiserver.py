#!/usr/bin/python3
"""A Kubernetes API server double for tests.

Serves Pods, Namespaces, NetworkAttachmentDefinitions and MultiNetworkPolicies over HTTPS with
bearer-token (and optionally client-certificate) auth: get, list with paging and selectors, watch
with bookmarks and a bounded event history (410 for old resource versions), create/replace/patch/
delete and enough discovery for kubectl. A plain-HTTP control port lets tests change objects and
provoke failures (compaction, expired watches, dropped connections, token rotation, restart, an
outage of 500/503 answers).

    /usr/bin/python3 tests/apiserver/apiserver.py --dir DIR [--port 0] [--client-cert-auth]
        [--history N] [--bookmark-interval S] [--expired-server-cert]

Writes DIR/{ca.crt,token,kubeconfig,kubeconfig-tokenfile,kubeconfig-cert,kubeconfig-cert-ec,
kubeconfig-cert-files,port,control-port} and DIR/ready once serving; runs until SIGTERM.
Importable: `from apiserver import ApiServer`.
"""

import argparse
import base64
import collections
import copy
import datetime
import http.server
import json
import os
import queue
import random
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

# resource path name -> (kind, group, version, namespaced)
RESOURCES = {
    "pods": ("Pod", "", "v1", True),
    "namespaces": ("Namespace", "", "v1", False),
    "network-attachment-definitions": ("NetworkAttachmentDefinition", "k8s.cni.cncf.io", "v1", True),
    "multi-networkpolicies": ("MultiNetworkPolicy", "k8s.cni.cncf.io", "v1beta1", True),
}
KINDS = {v[0]: k for k, v in RESOURCES.items()}
LIST_BUFFER = 4096  # a list body larger than this goes chunked, as from kube-apiserver
SHORT = {"pods": ["po"], "namespaces": ["ns"], "network-attachment-definitions": ["net-attach-def"],
         "multi-networkpolicies": ["multi-policy"]}
SINGULAR = {"pods": "pod", "namespaces": "namespace",
            "network-attachment-definitions": "network-attachment-definition",
            "multi-networkpolicies": "multi-networkpolicy"}
GROUP_VERSIONS = ["api/v1", "apis/k8s.cni.cncf.io/v1", "apis/k8s.cni.cncf.io/v1beta1"]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def api_version(resource):
    _, group, version, _ = RESOURCES[resource]
    return group + "/" + version if group else version


def status(code, reason, message, **extra):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason, "code": code}
    if code < 300:
        st["status"] = "Success"
    st.update(extra)
    return st


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- selectors ----------------------------------------------------------------------------

class SelectorError(ValueError):
    pass


def parse_label_selector(text):
    """Returns a list of (op, key, values); op in =, !=, in, notin, exists, !exists."""
    reqs = []
    if not text:
        return reqs
    # split on commas not inside parentheses
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", p)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(2), m.group(1), vals))
            continue
        m = re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", p)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((op, m.group(1), [m.group(3)]))
            continue
        m = re.fullmatch(r"(!?)\s*([\w./-]+)", p)
        if m:
            reqs.append(("!exists" if m.group(1) else "exists", m.group(2), []))
            continue
        raise SelectorError("unable to parse requirement: %r" % p)
    return reqs


def labels_match(reqs, labels):
    for op, key, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and (not has or v != vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and (not has or v not in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
    return True


FIELDS = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
}


def parse_field_selector(text):
    reqs = []
    if not text:
        return reqs
    for p in text.split(","):
        m = re.fullmatch(r"\s*([\w.]+)\s*(==|=|!=)\s*([^,]*?)\s*", p)
        if not m or m.group(1) not in FIELDS:
            raise SelectorError("field label not supported: %r" % p)
        reqs.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return reqs


def fields_match(reqs, obj):
    for field, eq, value in reqs:
        if (FIELDS[field](obj) == value) != eq:
            return False
    return True


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch (strategic merge patches are treated the same way)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- watches -------------------------------------------------------------------------------

class Watch:
    def __init__(self, kind, ns, lsel, fsel, bookmarks):
        self.kind, self.ns, self.lsel, self.fsel = kind, ns, lsel, fsel
        self.bookmarks = bookmarks
        self.q = queue.Queue()

    def matches(self, obj):
        if obj is None:
            return False
        md = obj["metadata"]
        if self.ns and md.get("namespace") != self.ns:
            return False
        return labels_match(self.lsel, md.get("labels") or {}) and fields_match(self.fsel, obj)

    def translate(self, etype, obj, old):
        """The event this watch sees for a change (selectors turn moves into ADDED/DELETED)."""
        if etype == "ADDED":
            return "ADDED" if self.matches(obj) else None
        if etype == "DELETED":
            return "DELETED" if self.matches(obj) else None
        was, now = self.matches(old), self.matches(obj)
        if was and now:
            return "MODIFIED"
        if now:
            return "ADDED"
        if was:
            return "DELETED"
        return None


# ---- certificates ----------------------------------------------------------------------------

def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d, expired_server_cert=False):
    """CA, server certificate (RSA) for 127.0.0.1/localhost, client certificates (RSA and EC)."""
    p = lambda n: os.path.join(d, n)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"), "-subj", "/CN=apiserver-double-ca",
         "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def leaf(name, key_args, subj, ext, days):
        with open(p(name + ".ext"), "w") as f:
            f.write(ext)
        run(["openssl", "req", "-new", "-newkey"] + key_args + ["-nodes", "-keyout",
             p(name + ".key"), "-out", p(name + ".csr"), "-subj", subj])
        run(["openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.crt"), "-CAkey",
             p("ca.key"), "-set_serial", str(random.getrandbits(63)), "-days", str(days),
             "-extfile", p(name + ".ext"), "-out", p(name + ".crt")])
        os.unlink(p(name + ".csr"))
        os.unlink(p(name + ".ext"))

    leaf("server", ["rsa:2048"], "/CN=kube-apiserver",
         "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
         "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
         -1 if expired_server_cert else 365)
    client_ext = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                  "extendedKeyUsage=clientAuth\n")
    leaf("client", ["rsa:2048"], "/O=system:nodes/CN=system:node:test", client_ext, 365)
    leaf("client-ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
         "/O=system:nodes/CN=system:node:test-ec", client_ext, 365)


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def kubeconfig(server, cluster_lines, user_lines):
    return ("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n%s    server: %s\n"
            "  name: double\ncontexts:\n- context:\n    cluster: double\n    user: double\n"
            "  name: double\ncurrent-context: double\npreferences: {}\nusers:\n- name: double\n"
            "  user:\n%s" % (cluster_lines, server, user_lines))


# ---- the HTTPS API -------------------------------------------------------------------------

class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, api, ssl_ctx):
        self.api, self.ssl_ctx = api, ssl_ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's own thread, never in the accept loop.
        if self.ssl_ctx is not None:
            request.settimeout(10)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                self.api.count("tls_handshake_failures")
                return
            request.settimeout(None)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            try:
                request.close()
            except OSError:
                pass


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.api.verbose:
            sys.stderr.write("apiserver: %s\n" % (fmt % args))

    def setup(self):
        super().setup()
        self.server.api.track(self.connection, True)

    def finish(self):
        self.server.api.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self):
        self.server.api.handle(self, "GET")

    def do_POST(self):
        self.server.api.handle(self, "POST")

    def do_PUT(self):
        self.server.api.handle(self, "PUT")

    def do_PATCH(self):
        self.server.api.handle(self, "PATCH")

    def do_DELETE(self):
        self.server.api.handle(self, "DELETE")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, obj):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.server.api.control(self, "GET")

    def do_PUT(self):
        self.server.api.control(self, "PUT")

    def do_POST(self):
        self.server.api.control(self, "POST")

    def do_DELETE(self):
        self.server.api.control(self, "DELETE")

    body = ApiHandler.body
    send_json = ApiHandler.send_json


class ApiServer:
    def __init__(self, directory, port=0, client_cert_auth=False, history=1000,
                 bookmark_interval=2.0, expired_server_cert=False, verbose=False):
        self.dir = os.path.abspath(directory)
        self.port = port
        self.client_cert_auth = client_cert_auth
        self.history_max = history
        self.bookmark_interval = bookmark_interval
        self.expired_server_cert = expired_server_cert
        self.verbose = verbose
        self.lock = threading.RLock()
        self.rv = 0
        self.min_rv = 0  # a watch may start from any RV >= min_rv
        self.objects = {kind: {} for kind in KINDS}
        self.history = collections.deque()
        self.watches = set()
        self.conns = set()
        self.stats = collections.Counter()
        self.paths = collections.Counter()
        # tunables, also settable through POST /config on the control port
        self.config = {
            "expired_mode": "status",  # old RV at watch start: "status" (HTTP 410) or "event"
            "chunk_max": 0,  # >0: split watch output into chunks of at most this many bytes
            "coalesce": False,  # send every queued event in one write
            "write_delay": 0.0,  # seconds between chunks
            "watch_timeout_max": 1800,
            "list_delay": 0.0,  # seconds before answering a list
            "fail_next": [],  # list of HTTP codes the next API requests get (429, 500, ...)
            "fail_message": "injected failure",  # message of those failures
            "fail_pad": 0,  # >0: their Status body is padded to this many bytes
            "fail_headers": {},  # extra headers on them, e.g. {"Retry-After": "4000000"}
            "fail_raw": None,  # a string: their body, sent as it is (control characters too)
            "fail_watches": [],  # HTTP codes the next watch requests (only) get, e.g. [410]
            "stall_watches": 0,  # this many next watches get 200 and headers, then silence past their timeout
            # an outage: for this many seconds from the POST /config that sets it, every API
            # request is answered with fail_codes in turn (each one logged in /stats "outage")
            "fail_for_seconds": 0,
            "fail_codes": [500, 503],
            # broken chunked framing in the next watch writes / chunked list bodies, one mode
            # each: "cut", "bad-size" or "short" (see write_chunk)
            "watch_chunk_faults": [],
            "list_chunk_faults": [],
        }
        self.recent = collections.deque(maxlen=500)  # request targets (path?query) as received
        self.outage_start = self.outage_end = 0.0  # monotonic; fail_for_seconds' window
        self.outage = []  # [seconds into the outage, target, code] of every request it answered
        self.httpd = None
        self.ctl = None
        self.stopping = threading.Event()
        self.token = secrets.token_hex(24)

    # -- lifecycle --
    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        make_certs(self.dir, self.expired_server_cert)
        self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_ctx.load_cert_chain(self.p("server.crt"), self.p("server.key"))
        self.ssl_ctx.set_alpn_protocols(["http/1.1"])
        if self.client_cert_auth:
            self.ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
            self.ssl_ctx.load_verify_locations(self.p("ca.crt"))
        self._put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        self._listen()
        self.ctl = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ControlHandler)
        self.ctl.daemon_threads = True
        self.ctl.api = self
        self.control_port = self.ctl.server_address[1]
        threading.Thread(target=self.ctl.serve_forever, daemon=True).start()
        threading.Thread(target=self._bookmarker, daemon=True).start()
        self._write_files()
        write_atomic(self.p("ready"), "%d\n" % os.getpid())
        return self

    def stop(self):
        self.stopping.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
        self.drop_connections()
        if self.ctl:
            self.ctl.shutdown()
            self.ctl.server_close()

    def _listen(self):
        self.httpd = TLSServer(("127.0.0.1", self.port), ApiHandler, self, self.ssl_ctx)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def p(self, name):
        return os.path.join(self.dir, name)

    @property
    def server_url(self):
        return "https://127.0.0.1:%d" % self.port

    def _write_files(self):
        ca = "    certificate-authority-data: %s\n" % b64file(self.p("ca.crt"))
        write_atomic(self.p("token"), self.token + "\n")
        write_atomic(self.p("kubeconfig"),
                     kubeconfig(self.server_url, ca, "    token: %s\n" % self.token))
        write_atomic(self.p("kubeconfig-tokenfile"),
                     kubeconfig(self.server_url, ca, "    tokenFile: %s\n" % self.p("token")))
        for name, cert in (("kubeconfig-cert", "client"), ("kubeconfig-cert-ec", "client-ec")):
            write_atomic(self.p(name), kubeconfig(
                self.server_url, ca,
                "    client-certificate-data: %s\n    client-key-data: %s\n" % (
                    b64file(self.p(cert + ".crt")), b64file(self.p(cert + ".key")))))
        # relative paths, resolved against the kubeconfig's folder
        write_atomic(self.p("kubeconfig-cert-files"), kubeconfig(
            self.server_url, "    certificate-authority: ca.crt\n",
            "    client-certificate: client.crt\n    client-key: client.key\n"))
        write_atomic(self.p("port"), "%d\n" % self.port)
        write_atomic(self.p("control-port"), "%d\n" % self.control_port)

    # -- bookkeeping --
    def count(self, what, n=1):
        with self.lock:
            self.stats[what] += n

    def track(self, conn, add):
        with self.lock:
            if add:
                self.conns.add(conn)
            else:
                self.conns.discard(conn)

    def drop_connections(self):
        with self.lock:
            conns = list(self.conns)
            for w in self.watches:
                w.q.put(("close",))
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.count("drops")

    def restart(self, down=0.0, during=None):
        """Closes the listener and every connection, waits `down` seconds (calling during(),
        if given, while nothing is connected), then listens again on the same port."""
        old = self.httpd
        old.shutdown()
        old.server_close()
        self.drop_connections()
        if during:
            during()
        if down:
            time.sleep(down)
        self._listen()
        self.count("restarts")

    def rotate_token(self):
        with self.lock:
            self.token = secrets.token_hex(24)
        self._write_files()

    def _bookmarker(self):
        while not self.stopping.wait(self.bookmark_interval):
            self.send_bookmarks()

    def send_bookmarks(self):
        # Under the lock every event up to self.rv is already queued, so the mark is truthful.
        with self.lock:
            for w in self.watches:
                if w.bookmarks:
                    w.q.put(("bookmark", self.rv))

    def expire_watches(self):
        with self.lock:
            for w in self.watches:
                w.q.put(("expire",))

    def inject_raw(self, kind, data):
        """Writes data as it is into every open watch of kind (to test broken streams)."""
        with self.lock:
            for w in self.watches:
                if w.kind == kind:
                    w.q.put(("raw", data))

    def compact(self):
        with self.lock:
            self.history.clear()
            self.min_rv = self.rv

    # -- objects --
    def _record(self, kind, etype, obj, old):
        self.history.append((self.rv, kind, etype, obj, old))
        while len(self.history) > self.history_max:
            self.min_rv = self.history.popleft()[0]
        for w in self.watches:
            if w.kind == kind:
                t = w.translate(etype, obj, old)
                if t:
                    w.q.put(("event", t, obj))

    def _put(self, obj, expect_new=None, expect_rv=None):
        """Create or replace; returns (code, stored object or Status)."""
        kind = obj.get("kind")
        if kind not in KINDS:
            return 400, status(400, "BadRequest", "unknown kind %r" % kind)
        res = KINDS[kind]
        md = obj.setdefault("metadata", {})
        if not md.get("name"):
            return 422, status(422, "Invalid", "%s: metadata.name: Required value" % kind)
        namespaced = RESOURCES[res][3]
        if namespaced:
            md.setdefault("namespace", "default")
        else:
            md.pop("namespace", None)
        key = (md.get("namespace", ""), md["name"])
        obj["apiVersion"] = api_version(res)
        with self.lock:
            old = self.objects[kind].get(key)
            if expect_new is True and old is not None:
                return 409, status(409, "AlreadyExists", '%s "%s" already exists' % (res, md["name"]))
            if expect_new is False and old is None:
                return 404, status(404, "NotFound", '%s "%s" not found' % (res, md["name"]))
            if expect_rv and old is not None and old["metadata"]["resourceVersion"] != expect_rv:
                return 409, status(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": "
                                   "the object has been modified" % (res, md["name"]))
            self.rv += 1
            if old is not None:
                md["uid"] = old["metadata"]["uid"]
                md["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            else:
                md.setdefault("uid", str(uuid.uuid4()))
                md.setdefault("creationTimestamp", now_rfc3339())
            md["resourceVersion"] = str(self.rv)
            if kind == "Namespace":
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
                obj.setdefault("status", {"phase": "Active"})
                md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
            self.objects[kind][key] = obj
            self._record(kind, "MODIFIED" if old else "ADDED", obj, old)
            return (200 if old else 201), obj

    def put_object(self, obj):
        """Create or replace (control interface and python tests); returns the stored object."""
        code, out = self._put(copy.deepcopy(obj))
        if code >= 300:
            raise ValueError(out["message"])
        return out

    def get_object(self, kind, ns, name):
        with self.lock:
            return self.objects.get(kind, {}).get((ns or "", name))

    def delete_object(self, kind, ns, name):
        with self.lock:
            old = self.objects.get(kind, {}).pop((ns or "", name), None)
            if old is None:
                return None
            self.rv += 1
            obj = copy.deepcopy(old)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._record(kind, "DELETED", obj, old)
            return obj

    def terminate_namespace(self, name, delay=0.5):
        """A namespace deleted through the API: Terminating first, then (as the namespace
        controller does) its objects and finally itself are deleted after `delay` seconds."""
        with self.lock:
            old = self.objects["Namespace"].get(("", name))
            if old is None:
                return None
            if old["metadata"].get("deletionTimestamp"):
                return old
            obj = copy.deepcopy(old)
            obj["metadata"]["deletionTimestamp"] = now_rfc3339()
            obj["status"] = {"phase": "Terminating"}
            self._put(obj)

        def finish():
            with self.lock:
                keys = [(kind, key) for kind, objs in self.objects.items() for key in objs
                        if key[0] == name and RESOURCES[KINDS[kind]][3]]
            for kind, key in keys:
                self.delete_object(kind, *key)
            self.delete_object("Namespace", "", name)

        t = threading.Timer(delay, finish)
        t.daemon = True
        t.start()
        return self.get_object("Namespace", "", name)

    def snapshot(self):
        """{kind: {(ns, name): resourceVersion}} of every stored object."""
        with self.lock:
            return {k: {key: o["metadata"]["resourceVersion"] for key, o in objs.items()}
                    for k, objs in self.objects.items()}

    # -- request routing --
    def authorized(self, h):
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and secrets.compare_digest(auth[7:].strip(), self.token):
            return True
        if self.client_cert_auth:
            try:
                if h.connection.getpeercert():
                    self.count("client_cert_auth")
                    return True
            except (AttributeError, ValueError):
                pass
        return False

    def handle(self, h, method):
        url = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        path = url.path.rstrip("/") or "/"
        with self.lock:
            self.stats["requests"] += 1
            self.paths[path] += 1
            self.recent.append(h.path)
        try:
            if self.outage_code(h.path) is not None:
                h.body()
                self.count("injected_failures")
                code = self.outage[-1][2]
                return self.send_status(h, code, "injected outage: HTTP %d" % code)
            if not self.authorized(h):
                self.count("unauthorized")
                h.body()
                return h.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            with self.lock:
                fail = self.config["fail_next"].pop(0) if self.config["fail_next"] else None
                msg, pad = self.config["fail_message"], self.config["fail_pad"]
                hdr, raw = dict(self.config["fail_headers"]), self.config["fail_raw"]
            if fail:
                h.body()
                self.count("injected_failures")
                return self.send_status(h, fail, msg, hdr, pad, raw)
            if method == "GET" and self.discovery(h, path):
                return
            route = self.route(path)
            if route is None:
                h.body()
                return h.send_json(404, status(404, "NotFound", "the server could not find the "
                                               "requested resource"))
            res, ns, name = route
            if method == "GET" and name is None:
                if q.get("watch") in ("1", "true"):
                    return self.watch(h, res, ns, q)
                return self.list(h, res, ns, q)
            return self.crud(h, method, res, ns, name, q)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            h.close_connection = True

    def outage_code(self, target):
        """While fail_for_seconds' window lasts: the code this request gets (logged); else None."""
        with self.lock:
            now = time.monotonic()
            if now >= self.outage_end:
                return None
            codes = self.config["fail_codes"] or [503]
            code = codes[len(self.outage) % len(codes)]
            self.outage.append([round(now - self.outage_start, 3), target, code])
            return code

    def send_status(self, h, code, message, headers=None, pad=0, raw=None):
        reasons = {400: "BadRequest", 404: "NotFound", 409: "Conflict", 410: "Expired",
                   429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}
        body = json.dumps(status(code, reasons.get(code, "Unknown"), message)).encode()
        if pad > len(body):  # a huge message, as a broken proxy may send
            body = json.dumps(status(code, reasons.get(code, "Unknown"),
                                     message + "x" * (pad - len(body)))).encode()
        if raw is not None:
            body = raw.encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        if code == 429 and "Retry-After" not in (headers or {}):
            h.send_header("Retry-After", "1")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def route(self, path):
        parts = [urllib.parse.unquote(x) for x in path.strip("/").split("/")]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2 or rest[0] not in RESOURCES:
            return None
        res = rest[0]
        _, g, v, namespaced = RESOURCES[res]
        # MultiNetworkPolicy: the versions served are a setting (v1beta1, v1beta2 or both)
        versions = self.config.get("mnp_versions", [v]) if res == "multi-networkpolicies" else [v]
        if g != group or version not in versions or (ns is not None and not namespaced):
            return None
        return res, ns, rest[1] if len(rest) == 2 else None

    def discovery(self, h, path):
        if path == "/version":
            h.send_json(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-double",
                              "platform": "linux/amd64"})
        elif path == "/api":
            h.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs":
                              [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % self.port}]})
        elif path == "/apis":
            h.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "k8s.cni.cncf.io",
                 "versions": [{"groupVersion": "k8s.cni.cncf.io/v1", "version": "v1"},
                              {"groupVersion": "k8s.cni.cncf.io/v1beta1", "version": "v1beta1"}],
                 "preferredVersion": {"groupVersion": "k8s.cni.cncf.io/v1", "version": "v1"}}]})
        elif path == "/openapi/v2":
            # Older kubectl (1.20) validates against OpenAPI v2 in protobuf: a Document with only
            # swagger="2.0" and info has no schemas, so it skips client-side validation.
            info = b"\x0a\x0aKubernetes\x12\x07v1.30.0"
            data = b"\x0a\x032.0\x12" + bytes([len(info)]) + info
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        elif path == "/openapi/v3":
            h.send_json(200, {"paths": {gv: {"serverRelativeURL": "/openapi/v3/%s?hash=0" % gv}
                                        for gv in GROUP_VERSIONS}})
        elif path.startswith("/openapi/v3/") and path[len("/openapi/v3/"):] in GROUP_VERSIONS:
            h.send_json(200, self.openapi_v3(path[len("/openapi/v3/"):]))
        elif path in ("/api/v1", "/apis/k8s.cni.cncf.io/v1", "/apis/k8s.cni.cncf.io/v1beta1"):
            gv = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):]
            resources = []
            for res, (kind, g, v, namespaced) in RESOURCES.items():
                if api_version(res) == gv:
                    resources.append({"name": res, "singularName": SINGULAR[res],
                                      "namespaced": namespaced, "kind": kind, "verbs": VERBS,
                                      "shortNames": SHORT[res]})
            h.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                              "resources": resources})
        else:
            return False
        return True

    def openapi_v3(self, gv):
        """Just enough OpenAPI v3 for kubectl to see that fieldValidation is served (so it leaves
        validation to the server, which here accepts any well-formed object)."""
        paths = {}
        for res, (kind, g, v, namespaced) in RESOURCES.items():
            if "/".join(x for x in ("api" if not g else "apis", g, v) if x) != gv:
                continue
            base = "/" + gv + ("/namespaces/{namespace}/" if namespaced else "/") + res
            gvk = {"group": g, "version": v, "kind": kind}
            param = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]
            op = {"x-kubernetes-group-version-kind": gvk, "parameters": param,
                  "responses": {"200": {"description": "OK"}}}
            paths[base] = {"post": dict(op, **{"x-kubernetes-action": "post"})}
            paths[base + "/{name}"] = {"patch": dict(op, **{"x-kubernetes-action": "patch"}),
                                       "put": dict(op, **{"x-kubernetes-action": "put"})}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.0"},
                "paths": paths, "components": {"schemas": {}}}

    def selectors(self, q):
        return parse_label_selector(q.get("labelSelector", "")), \
            parse_field_selector(q.get("fieldSelector", ""))

    def list(self, h, res, ns, q):
        kind = RESOURCES[res][0]
        try:
            lsel, fsel = self.selectors(q)
            limit = int(q.get("limit") or 0)
        except (SelectorError, ValueError) as e:
            return h.send_json(400, status(400, "BadRequest", str(e)))
        if self.config["list_delay"]:
            time.sleep(self.config["list_delay"])
        probe = Watch(kind, ns, lsel, fsel, False)
        with self.lock:
            self.stats["lists"] += 1
            self.stats["lists_" + kind] += 1
            start = None
            rv = self.rv
            if q.get("continue"):
                try:
                    tok = json.loads(base64.urlsafe_b64decode(q["continue"]))
                    rv, start = int(tok["rv"]), tuple(tok["start"])
                except (ValueError, KeyError, TypeError):
                    return h.send_json(400, status(400, "BadRequest", "invalid continue token"))
                if rv < self.min_rv:
                    self.stats["gone"] += 1
                    return h.send_json(410, status(
                        410, "Expired", "The provided continue parameter is too old to display a "
                        "consistent list result. You can start a new list without the continue "
                        "parameter."))
            keys = sorted(k for k in self.objects[kind] if start is None or k > start)
            items, more, items_last = [], None, None
            for k in keys:
                o = self.objects[kind][k]
                if not probe.matches(o):
                    continue
                if limit and len(items) == limit:
                    more = items_last
                    break
                if not RESOURCES[res][1]:  # kube-apiserver: built-in lists' items carry no kind
                    o = {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                items.append(o)
                items_last = k
            body = {"kind": kind + "List", "apiVersion": api_version(res),
                    "metadata": {"resourceVersion": str(rv)}, "items": items}
            if more is not None:
                body["metadata"]["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"rv": rv, "start": list(more)}).encode()).decode()
                body["metadata"]["remainingItemCount"] = sum(
                    1 for k in keys if k > more and probe.matches(self.objects[kind][k]))
            data = json.dumps(body, separators=(",", ":")).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if len(data) <= LIST_BUFFER:
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        # as Go's server does past its response buffer: chunked, the first chunk the buffer's size
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        fault = self.take_chunk_fault("list_chunk_faults")
        for i in range(0, len(data), LIST_BUFFER):
            part = data[i:i + LIST_BUFFER]
            # the fault hits the second chunk: the first already delivered some items
            if not self.write_chunk(h, part, fault if i == LIST_BUFFER else None):
                return
        h.wfile.write(b"0\r\n\r\n")

    def watch(self, h, res, ns, q):
        kind = RESOURCES[res][0]
        with self.lock:
            fail = self.config["fail_watches"].pop(0) if self.config["fail_watches"] else None
            stall = self.config["stall_watches"] > 0
            if stall:
                self.config["stall_watches"] -= 1
        if fail:
            self.count("injected_failures")
            return self.send_status(h, fail, "injected watch failure")
        try:
            lsel, fsel = self.selectors(q)
            timeout = int(q.get("timeoutSeconds") or self.config["watch_timeout_max"])
        except (SelectorError, ValueError) as e:
            return h.send_json(400, status(400, "BadRequest", str(e)))
        w = Watch(kind, ns, lsel, fsel, q.get("allowWatchBookmarks") in ("1", "true"))
        rv_text = q.get("resourceVersion", "")
        gone = None
        with self.lock:
            self.stats["watches"] += 1
            self.stats["watches_" + kind] += 1
            if rv_text in ("", "0"):
                for key in sorted(self.objects[kind]):
                    o = self.objects[kind][key]
                    if w.matches(o):
                        w.q.put(("event", "ADDED", o))
            else:
                try:
                    rv = int(rv_text)
                except ValueError:
                    return h.send_json(400, status(400, "BadRequest", "invalid resourceVersion"))
                if rv < self.min_rv:
                    self.stats["gone"] += 1
                    gone = status(410, "Expired", "too old resource version: %d (%d)" %
                                  (rv, self.min_rv))
                else:
                    for (erv, ekind, etype, obj, old) in self.history:
                        if erv > rv and ekind == kind:
                            t = w.translate(etype, obj, old)
                            if t:
                                w.q.put(("event", t, obj))
            if gone is not None and self.config["expired_mode"] == "status":
                return h.send_json(410, gone)
            if gone is None:
                self.watches.add(w)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            if gone is not None:
                self.write_events(h, [{"type": "ERROR", "object": gone}])
                h.wfile.write(b"0\r\n\r\n")
                return
            if stall:  # a stuck proxy: nothing more, not even the end at timeoutSeconds
                self.count("stalled_watches")
                self.count("stalled_watches_" + kind)
                h.wfile.flush()
                while h.connection.recv(4096):
                    pass
                h.close_connection = True
                return
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    h.wfile.write(b"0\r\n\r\n")
                    return
                try:
                    items = [w.q.get(timeout=left)]
                except queue.Empty:
                    continue
                if self.config["coalesce"]:
                    while True:
                        try:
                            items.append(w.q.get_nowait())
                        except queue.Empty:
                            break
                events, end = [], None
                for it in items:
                    if it[0] == "event":
                        events.append({"type": it[1], "object": it[2]})
                    elif it[0] == "raw":
                        events.append(it[1])
                    elif it[0] == "bookmark":
                        events.append({"type": "BOOKMARK", "object": {
                            "kind": kind, "apiVersion": api_version(res),
                            "metadata": {"resourceVersion": str(it[1]), "annotations": {
                                "k8s.io/initial-events-end": "true"}}}})
                    else:
                        end = it[0]
                        break
                if end == "expire":
                    events.append({"type": "ERROR", "object": status(
                        410, "Expired", "The resourceVersion for the provided watch is too old.")})
                if not self.write_events(h, events):
                    h.close_connection = True
                    return
                if end == "expire":
                    self.count("expired_watches")
                    h.wfile.write(b"0\r\n\r\n")
                    return
                if end == "close":
                    h.close_connection = True
                    return
        finally:
            with self.lock:
                self.watches.discard(w)

    def write_events(self, h, events):
        """False once a "cut" fault ended the stream."""
        if not events:
            return True
        data = b"".join(e if isinstance(e, bytes) else
                        json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)
        step = self.config["chunk_max"] or len(data)
        fault = self.take_chunk_fault("watch_chunk_faults")
        for i in range(0, len(data), step):
            part = data[i:i + step]
            if not self.write_chunk(h, part, fault if i == 0 else None):
                return False
            if self.config["write_delay"]:
                time.sleep(self.config["write_delay"])
        return True

    def take_chunk_fault(self, which):
        with self.lock:
            return self.config[which].pop(0) if self.config[which] else None

    def write_chunk(self, h, part, fault=None):
        """One chunk of a chunked body, or a broken one: "cut" announces the chunk, sends half
        of it and closes the connection (False); "bad-size" sends a size line that is not hex;
        "short" announces the chunk but sends half of it then garbage where its end (CRLF) should
        be. After "bad-size" and "short" the connection stays open and writing goes on."""
        n = len(part)
        if fault:
            self.count("chunk_faults")
            self.count("chunk_faults_" + fault)
        if fault == "cut":
            h.wfile.write(b"%x\r\n%s" % (n, part[:n // 2]))
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return False
        if fault == "bad-size":
            h.wfile.write(b"z%x\r\n%s\r\n" % (n, part))
        elif fault == "short":
            h.wfile.write(b"%x\r\n%s%s\x00garbage\x00\r\n" % (n, part[:n // 2], b"\x00" * (n - n // 2)))
        else:
            h.wfile.write(b"%x\r\n%s\r\n" % (n, part))
        h.wfile.flush()
        return True

    def crud(self, h, method, res, ns, name, q):
        kind, _, _, namespaced = RESOURCES[res]
        raw = h.body()
        if method == "GET":
            o = self.get_object(kind, ns if namespaced else "", name)
            if o is None:
                return h.send_json(404, status(404, "NotFound", '%s "%s" not found' % (res, name),
                                               details={"name": name, "kind": res}))
            with self.lock:
                return h.send_json(200, o)
        if method == "DELETE":
            if name is None:
                return h.send_json(405, status(405, "MethodNotAllowed", "collection delete"))
            if kind == "Namespace":
                o = self.terminate_namespace(name)
            else:
                o = self.delete_object(kind, ns if namespaced else "", name)
            if o is None:
                return h.send_json(404, status(404, "NotFound", '%s "%s" not found' % (res, name),
                                               details={"name": name, "kind": res}))
            return h.send_json(200, o)
        try:
            body = json.loads(raw or b"null")
        except ValueError as e:
            return h.send_json(400, status(400, "BadRequest", "invalid JSON: %s" % e))
        if method == "PATCH":
            ctype = h.headers.get("Content-Type", "")
            if "merge-patch" not in ctype:
                return h.send_json(415, status(415, "UnsupportedMediaType",
                                               "only merge patches are supported: %s" % ctype))
            with self.lock:
                old = self.get_object(kind, ns if namespaced else "", name)
                if old is None:
                    return h.send_json(404, status(404, "NotFound", '%s "%s" not found' %
                                                   (res, name)))
                new = merge_patch(copy.deepcopy(old), body)
                new["metadata"].pop("resourceVersion", None)
                code, out = self._put(new, expect_new=False)
                return h.send_json(200 if code < 300 else code, out)
        if not isinstance(body, dict) or body.get("kind") != kind:
            return h.send_json(400, status(400, "BadRequest", "body must be a %s" % kind))
        md = body.setdefault("metadata", {})
        if namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                return h.send_json(400, status(400, "BadRequest", "namespace mismatch"))
            md["namespace"] = ns or md.get("namespace") or "default"
        if method == "POST":
            if name is not None:
                return h.send_json(405, status(405, "MethodNotAllowed", "POST to an object"))
            if "generateName" in md and not md.get("name"):
                md["name"] = md["generateName"] + secrets.token_hex(3)
            md.pop("resourceVersion", None)
            code, out = self._put(body, expect_new=True)
            return h.send_json(code, out)
        if method == "PUT":
            if name is None or md.get("name", name) != name:
                return h.send_json(400, status(400, "BadRequest", "name mismatch"))
            md["name"] = name
            code, out = self._put(body, expect_new=False, expect_rv=md.pop("resourceVersion", None))
            return h.send_json(code, out)
        return h.send_json(405, status(405, "MethodNotAllowed", method))

    # -- control interface --
    def control(self, h, method):
        url = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        parts = [urllib.parse.unquote(x) for x in url.path.strip("/").split("/")]
        raw = h.body()
        try:
            if method == "PUT" and parts == ["objects"]:
                body = json.loads(raw)
                if isinstance(body, dict) and body.get("kind") == "List":
                    body = body.get("items", [])
                if isinstance(body, list):
                    for o in body:
                        self.put_object(o)
                    return h.send_json(200, {"count": len(body), "resourceVersion": str(self.rv)})
                return h.send_json(200, self.put_object(body))
            if len(parts) == 4 and parts[0] == "objects" and method in ("GET", "DELETE"):
                kind, ns, name = parts[1], parts[2], parts[3]
                ns = "" if ns == "_" else ns
                o = self.get_object(kind, ns, name) if method == "GET" else \
                    self.delete_object(kind, ns, name)
                if o is None:
                    return h.send_json(404, {"error": "not found: %s %s/%s" % (kind, ns, name)})
                return h.send_json(200, o)
            if method == "GET" and parts == ["list"]:
                with self.lock:
                    items = [o for objs in self.objects.values() for o in objs.values()]
                return h.send_json(200, {"kind": "List", "apiVersion": "v1", "items": items})
            if method == "GET" and parts == ["objects"]:
                snap = self.snapshot()
                return h.send_json(200, {"resourceVersion": str(self.rv), "objects": {
                    k: {"%s/%s" % key: rv for key, rv in v.items()} for k, v in snap.items()}})
            if method == "GET" and parts == ["stats"]:
                with self.lock:
                    out = dict(self.stats)
                    out["paths"] = dict(self.paths)
                    out["open_watches"] = len(self.watches)
                    out["open_connections"] = len(self.conns)
                    out["resourceVersion"] = self.rv
                    out["min_rv"] = self.min_rv
                    out["recent"] = list(self.recent)
                    out["outage"] = list(self.outage)
                    out["outage_left"] = round(max(0.0, self.outage_end - time.monotonic()), 3)
                return h.send_json(200, out)
            if method == "POST" and parts == ["config"]:
                with self.lock:
                    self.config.update(json.loads(raw))
                    if "fail_for_seconds" in json.loads(raw):
                        self.outage_start = time.monotonic()
                        self.outage_end = self.outage_start + float(self.config["fail_for_seconds"])
                        self.outage = []
                    return h.send_json(200, self.config)
            actions = {
                "compact": self.compact,
                "expire-watches": self.expire_watches,
                "drop-connections": self.drop_connections,
                "rotate-token": self.rotate_token,
                "bookmark": self.send_bookmarks,
                "restart": lambda: self.restart(float(q.get("down", 0))),
            }
            if method == "POST" and len(parts) == 1 and parts[0] in actions:
                actions[parts[0]]()
                return h.send_json(200, {"ok": True, "resourceVersion": str(self.rv)})
            return h.send_json(404, {"error": "no such control endpoint: %s %s" % (method, url.path)})
        except (ValueError, KeyError, TypeError) as e:
            return h.send_json(400, {"error": str(e)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--client-cert-auth", action="store_true")
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--bookmark-interval", type=float, default=2.0)
    ap.add_argument("--expired-server-cert", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    api = ApiServer(args.dir, port=args.port, client_cert_auth=args.client_cert_auth,
                    history=args.history, bookmark_interval=args.bookmark_interval,
                    expired_server_cert=args.expired_server_cert, verbose=args.verbose)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    api.start()
    while not done.wait(3600):
        pass
    api.stop()


if __name__ == "__main__":
    main()
