#!/usr/bin/python3
"""A CRI runtime double: serves runtime.v1 Version, ListPodSandbox, PodSandboxStatus and the
GetContainerEvents stream on a unix socket, answering from a JSON state file that is re-read on
every call (a harness rewrites it to add, recreate or remove sandboxes).

  /usr/bin/python3 tests/cri/fake_cri.py --socket PATH --state FILE
      [--fault none|slow|wrong-status|huge|bad-json|garbage|hang] [--slow-seconds N]
      [--keepalive-ms N] [--frame-proxy]

State file:
  {"sandboxes": [{"id": "...", "uid": "...", "namespace": "...", "name": "...",
                  "netns": "/var/run/netns/x", "pid": 123,        (pid optional)
                  "state": "ready" | "notready",
                  "flavor": "containerd" | "crio" | "crio-noinfra"
                            | "containerd-metaonly" | "pid-only",
                  "containers": ["container id", ...]}],              (optional)
   "fault": "...",                                                  (optional, overrides --fault)
   "events": "on" | "unimplemented" | "silent"}                     (optional, default on)

GetContainerEvents follows the state file as containerd's does its store (the file is read every
50 ms per stream): a sandbox that appears ready gets CONTAINER_CREATED then CONTAINER_STARTED
(container_id = sandbox id, pod_sandbox_status set), then one CONTAINER_CREATED per id of its
"containers" (container_id = that id, the sandbox's status); ready -> notready gives
CONTAINER_STOPPED with the status; a sandbox gone from the file gives CONTAINER_DELETED with no
status (containerd removes it from its store first). "events": "unimplemented" answers
UNIMPLEMENTED, as containerd 1.6 does; "silent" keeps the stream open and sends nothing (every
event lost). The mode is read when a stream starts.

Verbose info["info"] is shaped like the real runtimes': containerd (2.x; tests/fuzz-seeds/cri_info
has what 1.6, 1.7 and 2.1 really send) puts the netns path in runtimeSpec.linux.namespaces,
sandboxMetadata.Metadata.NetNSPath and cniResult; CRI-O (the shape of CRI-O 1.29's
server/sandbox_status.go: image, pid, runtimeSpec; not run here) in runtimeSpec with the infra pid (0
when the infra container is dropped). "containerd-metaonly" has no runtimeSpec
(a sandbox still being created), "pid-only" has nothing but the pid.

--keepalive-ms makes the server PING every connection that often and drop it when a PING is not
answered within the same time (so a client that ignores PING loses slow calls).

--frame-proxy puts an HTTP/2 frame proxy on PATH in front of the gRPC server (which then listens
on PATH.backend), for the state file's faults that stall a response part-way:
hang-headers (a response's HEADERS frame is passed on, then nothing more on that connection) and
hang-data (HEADERS and half of the first DATA frame, then nothing more). What the server sends
meanwhile is held: when the state's fault is cleared a connection stalled by hang-headers gets it
all (a runtime that was stuck and resumes), one stalled by hang-data stays stalled for good (its
writer died mid-frame) while new connections are answered again. Calls that arrived during the
fault are logged ("stalled ...").

Faults: slow (every call sleeps --slow-seconds, default 5, before answering), wrong-status (every
call fails with FAILED_PRECONDITION), huge (List and Status answers of ~6 MiB), bad-json
(info["info"] is not JSON), garbage (no gRPC at all: a plain listener writes junk bytes), hang
(a plain listener that accepts and never answers, ignoring any grpc-timeout).

When serving, PATH.ready is written (and PATH exists). SIGTERM/SIGINT stop it and remove both.
The generated protobuf modules go to a scratch folder made at start and removed at exit.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "src", "cri"))
FAULTS = ("none", "slow", "wrong-status", "huge", "bad-json", "garbage", "hang")
PROXY_FAULTS = ("hang-headers", "hang-data")
HUGE = 6 * 1024 * 1024


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


def generate(scratch):
    """runtime_pb2 from the system protoc, runtime_pb2_grpc from grpc_tools (see RECIPES.md)."""
    proto = os.path.join(PROTO_DIR, "runtime.proto")
    subprocess.run(["protoc", "--python_out=" + scratch, "-I", PROTO_DIR, proto], check=True)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "--grpc_python_out=" + scratch,
                    "-I", PROTO_DIR, proto], check=True)
    sys.path.insert(0, scratch)


def read_state(path):
    with open(path) as f:
        return json.load(f)


def info_json(sb):
    netns = sb.get("netns", "")
    pid = int(sb.get("pid", 0) or 0)
    flavor = sb.get("flavor", "containerd")
    spec = {
        "ociVersion": "1.0.2-dev",
        "process": {"args": ["/pause"], "cwd": "/"},
        "root": {"path": "rootfs", "readonly": True},
        "linux": {
            "cgroupsPath": "/kubepods/pod" + sb.get("uid", ""),
            "namespaces": [
                {"type": "pid"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
                {"type": "network", "path": netns},
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys"],
        },
    }
    meta = {"name": sb.get("name", ""), "uid": sb.get("uid", ""),
            "namespace": sb.get("namespace", ""), "attempt": 0}
    if flavor in ("crio", "crio-noinfra"):
        doc = {"image": "registry.k8s.io/pause:3.9",
               "pid": 0 if flavor == "crio-noinfra" else pid,
               "runtimeSpec": spec}
    elif flavor == "pid-only":
        doc = {"pid": pid, "processStatus": "running"}
    else:
        doc = {
            "pid": pid,
            "processStatus": "running",
            "netNamespaceClosed": False,
            "image": "registry.k8s.io/pause:3.9",
            "snapshotKey": sb.get("id", ""),
            "snapshotter": "overlayfs",
            "runtimeType": "io.containerd.runc.v2",
            "runtimeOptions": {"systemd_cgroup": False},
            "config": {"metadata": meta, "labels": {"io.kubernetes.pod.uid": sb.get("uid", "")}},
            "runtimeSpec": spec,
            "cniResult": {"Interfaces": {"eth0": {"IPConfigs": [{"IP": "10.88.0.5",
                                                                  "Gateway": "10.88.0.1"}],
                                                  "Mac": "6a:1f:00:00:00:05",
                                                  "Sandbox": netns}},
                          "DNS": [{}], "Routes": None},
            # containerd 2.x's versioned envelope (1.6 and 1.7 send no sandboxMetadata)
            "sandboxMetadata": {"Version": "v1", "Metadata": {
                "ID": sb.get("id", ""), "Name": sb.get("name", ""), "Config": {"metadata": meta},
                "NetNSPath": netns, "IP": "10.88.0.5", "RuntimeHandler": ""}},
        }
        if flavor == "containerd-metaonly":
            del doc["runtimeSpec"]
            del doc["cniResult"]
    return json.dumps(doc)


def serve_grpc(args):
    import grpc
    from concurrent import futures

    scratch = scratch_dir("fake-cri-gen-")
    try:
        generate(scratch)
    except Exception:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    import runtime_pb2 as pb
    import runtime_pb2_grpc as pbg

    def fault_now():
        try:
            return read_state(args.state).get("fault", args.fault)
        except (OSError, ValueError):
            return args.fault

    def common(context):
        fault = fault_now()
        if fault == "slow":
            end = time.monotonic() + args.slow_seconds
            while time.monotonic() < end and context.is_active():
                time.sleep(0.05)
        if fault == "wrong-status":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "fake runtime: injected failure")
        return fault

    def sandboxes(context):
        try:
            return read_state(args.state).get("sandboxes", [])
        except (OSError, ValueError) as e:
            context.abort(grpc.StatusCode.INTERNAL, "fake runtime: state file: %s" % e)

    def state_enum(sb):
        return pb.SANDBOX_READY if sb.get("state", "ready") == "ready" else pb.SANDBOX_NOTREADY

    def metadata(sb):
        return pb.PodSandboxMetadata(name=sb.get("name", ""), uid=sb.get("uid", ""),
                                     namespace=sb.get("namespace", ""),
                                     attempt=int(sb.get("attempt", 0)))

    def sandbox_status(sb):
        return pb.PodSandboxStatus(id=sb["id"], metadata=metadata(sb), state=state_enum(sb),
                                   created_at=int(sb.get("created_at", 1700000000000000000)))

    def events_between(before, after):
        """The events containerd would send for the store going from before to after."""
        out = []
        for sid, sb in after.items():
            old = before.get(sid)
            ready = state_enum(sb) == pb.SANDBOX_READY
            if old is None and ready:
                for kind in (pb.CONTAINER_CREATED_EVENT, pb.CONTAINER_STARTED_EVENT):
                    out.append(pb.ContainerEventResponse(container_id=sid, container_event_type=kind,
                                                         created_at=time.time_ns(),
                                                         pod_sandbox_status=sandbox_status(sb)))
                for cid in sb.get("containers", []):
                    out.append(pb.ContainerEventResponse(
                        container_id=cid, container_event_type=pb.CONTAINER_CREATED_EVENT,
                        created_at=time.time_ns(), pod_sandbox_status=sandbox_status(sb)))
            elif old is not None and state_enum(old) == pb.SANDBOX_READY and not ready:
                out.append(pb.ContainerEventResponse(container_id=sid,
                                                     container_event_type=pb.CONTAINER_STOPPED_EVENT,
                                                     created_at=time.time_ns(),
                                                     pod_sandbox_status=sandbox_status(sb)))
        for sid in before:
            if sid not in after:
                out.append(pb.ContainerEventResponse(container_id=sid,
                                                     container_event_type=pb.CONTAINER_DELETED_EVENT,
                                                     created_at=time.time_ns()))
        return out

    def store_now():
        try:
            return {sb["id"]: sb for sb in read_state(args.state).get("sandboxes", []) if sb.get("id")}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    class Runtime(pbg.RuntimeServiceServicer):
        def GetContainerEvents(self, request, context):
            try:
                mode = read_state(args.state).get("events", "on")
            except (OSError, ValueError):
                mode = "on"
            if mode == "unimplemented":
                context.abort(grpc.StatusCode.UNIMPLEMENTED,
                              "unknown method GetContainerEvents for service runtime.v1.RuntimeService")
            before = store_now() or {}
            while mode == "silent" and context.is_active():
                time.sleep(0.05)
            while context.is_active():
                time.sleep(0.05)
                after = store_now()
                if after is None:  # being rewritten
                    continue
                for ev in events_between(before, after):
                    yield ev
                before = after


        def Version(self, request, context):
            common(context)
            return pb.VersionResponse(version="0.1.0", runtime_name="fake-cri",
                                      runtime_version="1.0.0", runtime_api_version="v1")

        def ListPodSandbox(self, request, context):
            fault = common(context)
            resp = pb.ListPodSandboxResponse()
            flt = request.filter
            for sb in sandboxes(context):
                if flt.id and sb.get("id") != flt.id:
                    continue
                if flt.HasField("state") and state_enum(sb) != flt.state.state:
                    continue
                resp.items.add(id=sb.get("id", ""), metadata=metadata(sb), state=state_enum(sb),
                               created_at=1700000000000000000)
            if fault == "huge":
                resp.items.add(id="h" * 64, metadata=pb.PodSandboxMetadata(name="x" * HUGE))
            return resp

        def PodSandboxStatus(self, request, context):
            fault = common(context)
            for sb in sandboxes(context):
                if sb.get("id") == request.pod_sandbox_id:
                    break
            else:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              "an error occurred when try to find sandbox: not found")
            resp = pb.PodSandboxStatusResponse(
                status=pb.PodSandboxStatus(id=sb["id"], metadata=metadata(sb),
                                           state=state_enum(sb), created_at=1700000000000000000),
                timestamp=1700000000000000000)
            if request.verbose:
                if fault == "bad-json":
                    resp.info["info"] = '{"runtimeSpec": {"linux": {"namespaces": [{"type": '
                elif fault == "huge":
                    resp.info["info"] = json.dumps({"pad": "x" * HUGE})
                else:
                    resp.info["info"] = info_json(sb)
            return resp

    opts = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    if args.keepalive_ms:
        opts += [("grpc.keepalive_time_ms", args.keepalive_ms),
                 ("grpc.keepalive_timeout_ms", args.keepalive_ms),
                 ("grpc.keepalive_permit_without_calls", 1),
                 ("grpc.http2.max_pings_without_data", 0)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=opts)
    pbg.add_RuntimeServiceServicer_to_server(Runtime(), server)
    server.add_insecure_port("unix:" + os.path.abspath(args.socket))
    server.start()
    return server, scratch


def serve_garbage(args, junk=True):
    """Accepts connections and answers each with bytes that are no HTTP/2 at all (junk), or
    holds them open without a word (not junk)."""
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(args.socket)
    lsock.listen(16)
    held = []

    def loop():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            if not junk:
                held.append(conn)  # read nothing, answer nothing, close at exit
                continue
            try:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + bytes(range(256)) * 8)
                conn.settimeout(0.5)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=loop, daemon=True).start()
    return lsock


def frame_proxy(args, backend):
    """Listens on args.socket and pipes each connection to backend, passing the server's frames
    on whole unless the state file's fault (PROXY_FAULTS) says to stall a response."""
    import select
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(args.socket)
    lsock.listen(16)

    def fault_now():
        try:
            return read_state(args.state).get("fault", args.fault)
        except (OSError, ValueError):
            return args.fault

    def shut_both(server, client):
        for s in (server, client):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def client_to_server(client, server):
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                server.sendall(data)
        except OSError:
            pass
        shut_both(server, client)

    def server_to_client(client, server):
        buf = b""
        held = None  # the fault that stalled this connection; what comes after it waits in buf
        try:
            while True:
                r, _, _ = select.select([server], [], [], 0.05)
                if r:
                    data = server.recv(65536)
                    if not data:
                        break
                    buf += data
                if held == "hang-headers" and fault_now() != held:
                    held = None  # the runtime resumes: everything it said arrives now
                if held:
                    continue
                out = b""
                while len(buf) >= 9 and held is None:
                    length = int.from_bytes(buf[:3], "big")
                    ftype = buf[3]
                    if len(buf) < 9 + length:
                        break
                    fault = fault_now() if ftype in (0, 1) else None
                    if ftype == 1 and fault in PROXY_FAULTS:
                        n = 9 + length  # the response's HEADERS
                        held = fault if fault == "hang-headers" else None
                    elif ftype == 0 and length > 1 and fault == "hang-data":
                        n = 9 + length // 2  # the DATA frame's header and half its payload
                        held = fault
                    else:
                        n = 9 + length
                    out += buf[:n]
                    buf = buf[n:]
                    if held:
                        print("stalled a response (%s)" % held, flush=True)
                if out:
                    client.sendall(out)
        except OSError:
            pass
        shut_both(server, client)

    def loop():
        while True:
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(backend)
            except OSError:
                client.close()
                continue
            for fn in (client_to_server, server_to_client):
                threading.Thread(target=fn, args=(client, server), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return lsock


def main():
    ap = argparse.ArgumentParser(description="CRI runtime double")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--fault", default="none", choices=FAULTS)
    ap.add_argument("--slow-seconds", type=float, default=5.0)
    ap.add_argument("--keepalive-ms", type=int, default=0)
    ap.add_argument("--frame-proxy", action="store_true")
    args = ap.parse_args()

    if os.path.exists(args.socket):
        os.unlink(args.socket)
    ready = args.socket + ".ready"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    server = scratch = lsock = None
    backend = None
    if args.fault in ("garbage", "hang"):
        lsock = serve_garbage(args, junk=args.fault == "garbage")
    elif args.frame_proxy:
        public, backend = args.socket, args.socket + ".backend"
        if os.path.exists(backend):
            os.unlink(backend)
        args.socket = backend
        server, scratch = serve_grpc(args)
        args.socket = public
        lsock = frame_proxy(args, backend)
    else:
        server, scratch = serve_grpc(args)
    with open(ready, "w") as f:
        f.write("%d\n" % os.getpid())
    try:
        while not stop.is_set():
            stop.wait(0.5)
    finally:
        if server is not None:
            server.stop(0)
        if lsock is not None:
            lsock.close()
        for p in (ready, args.socket, backend):
            if p is None:
                continue
            try:
                os.unlink(p)
            except OSError:
                pass
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
