#!/usr/bin/python3
"""Turns a scenario file (shared SCENARIOS.md format) into render inputs: a Kubernetes List JSON
of its final objects with what kubelet and Multus would have written (uid, phase, network-status
with deterministic addresses), an .args file with the render flags from agent_args, and the
scenario's files. Usage: from-scenario.py SCENARIO.yaml OUTDIR"""
import ipaddress
import json
import os
import sys

import yaml


def key(o):
    m = o["metadata"]
    return (o["kind"], m.get("namespace", ""), m["name"])


def final_objects(sc):
    objs = {}
    for o in sc.get("objects") or []:
        objs[key(o)] = o
    for st in sc.get("steps") or []:
        for o in st.get("objects") or []:
            objs[key(o)] = o
        for d in st.get("delete") or []:
            objs.pop((d["kind"], d.get("namespace", ""), d["name"]), None)
    return list(objs.values())


def nad_first_ipam(cfg):
    c = json.loads(cfg)
    if "plugins" in c:
        c = c["plugins"][0]
    return c.get("ipam", {})


def main():
    path, out = sys.argv[1], sys.argv[2]
    sc = yaml.safe_load(open(path))
    name = sc["name"]
    nodes = sc.get("nodes") or ["node-1"]
    objs = final_objects(sc)
    nads = {}
    for o in objs:
        if o["kind"] == "NetworkAttachmentDefinition":
            m = o["metadata"]
            nads[m.get("namespace", "default") + "/" + m["name"]] = o
    next_ip = {}
    items = []
    if not any(o["kind"] == "Namespace" and o["metadata"]["name"] == "default" for o in objs):
        items.append({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "default"}})
    for o in objs:
        o = json.loads(json.dumps(o))
        m = o["metadata"]
        if o["kind"] == "Namespace":
            m.setdefault("labels", {})["kubernetes.io/metadata.name"] = m["name"]
        if o["kind"] == "Pod":
            ns = m.setdefault("namespace", "default")
            m["uid"] = "uid-%s-%s" % (ns, m["name"])
            o.setdefault("spec", {}).setdefault("nodeName", nodes[0])
            o["status"] = {"phase": "Running"}
            ann = m.setdefault("annotations", {})
            raw = ann.get("k8s.v1.cni.cncf.io/networks", "").strip()
            entries = []
            if raw.startswith("["):
                for e in json.loads(raw):
                    entries.append((e.get("namespace", ns) + "/" + e["name"],
                                    e.get("interface"), e.get("ips")))
            elif raw:
                for e in raw.split(","):
                    e = e.strip()
                    ifname = None
                    if "@" in e:
                        e, ifname = e.split("@", 1)
                    entries.append((e if "/" in e else ns + "/" + e, ifname, None))
            status = [{"name": "cbr0", "interface": "eth0", "ips": ["10.244.0.1"],
                       "default": True}]
            for i, (net, ifname, ips) in enumerate(entries):
                if ips:
                    ips = [str(ipaddress.ip_interface(a).ip) for a in ips]
                else:
                    ipam = nad_first_ipam(nads[net]["spec"]["config"]) if net in nads else {}
                    start = ipam.get("rangeStart")
                    if not start and ipam.get("subnet"):
                        start = str(ipaddress.ip_network(ipam["subnet"])[10])
                    ips = []
                    if start:
                        cur = next_ip.get(net, ipaddress.ip_address(start))
                        ips = [str(cur)]
                        next_ip[net] = cur + 1
                status.append({"name": net, "interface": ifname or "net%d" % (i + 1),
                               "ips": ips, "mac": "02:00:00:00:%02x:%02x" % (len(items), i)})
            ann["k8s.v1.cni.cncf.io/network-status"] = json.dumps(status)
        items.append(o)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f, indent=1,
                  sort_keys=True)
        f.write("\n")
    files = sc.get("files") or {}
    if files:
        os.makedirs(os.path.join(out, name + ".files"), exist_ok=True)
        for fn, text in files.items():
            with open(os.path.join(out, name + ".files", fn), "w") as f:
                f.write(text)
    args = ["--node", nodes[0]]
    for a in sc.get("agent_args") or []:
        args.append(a.replace("{files}", "tests/objects/%s.files" % name))
    with open(os.path.join(out, name + ".args"), "w") as f:
        f.write("\n".join(args) + "\n")


if __name__ == "__main__":
    main()
