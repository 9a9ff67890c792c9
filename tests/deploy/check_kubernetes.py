#!/usr/bin/env python3
"""deploy/kubernetes/: yamllint (strict) says nothing, every object is valid
against the Kubernetes API's schemas (the npm package kubernetes-models,
pinned in tests/deploy/k8s/; no API server here), and the DaemonSet holds
what the issue asks: hostNetwork, readiness on /healthz, a preStop drain
with SIGUSR2, requests, the scrape annotations, a PodDisruptionBudget
selecting its pods, the ConfigMap and Secret it names.

usage: check_kubernetes.py MANIFEST_DIR NPM_CACHE_DIR STUNRINGD

Every flag of the ConfigMap's STUNRINGD_FLAGS must be a flag of
STUNRINGD --help, and --metrics must be there (the probes need it).

The schema check is proven able to fail: a copy with a port that is not an
integer must be refused.
"""
import copy
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
NPM_SRC = os.path.join(HERE, "k8s")
NPM_TIMEOUT = 300


def yamllint(manifest_dir):
    files = sorted(glob.glob(os.path.join(manifest_dir, "*.yaml")))
    done = subprocess.run(["yamllint", "-s", "-c", os.path.join(manifest_dir, ".yamllint")]
                          + files, capture_output=True, text=True, timeout=60)
    said = (done.stdout + done.stderr).strip()
    return files, ([f"yamllint: exit {done.returncode}: {said}"]
                   if done.returncode != 0 or said else [])


def npm_install(cache):
    """npm ci of tests/deploy/k8s into cache (once per package-lock)."""
    os.makedirs(cache, exist_ok=True)
    stamp = hashlib.sha256()
    for f in ("package.json", "package-lock.json", "validate.js"):
        with open(os.path.join(NPM_SRC, f), "rb") as fh:
            stamp.update(fh.read())
        shutil.copy(os.path.join(NPM_SRC, f), cache)
    stamp_path = os.path.join(cache, ".installed")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp.hexdigest():
        return
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=cache,
                          capture_output=True, text=True, timeout=NPM_TIMEOUT,
                          env=dict(os.environ, npm_config_update_notifier="false"))
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in {cache}: {done.stdout}{done.stderr}")
    with open(stamp_path, "w") as f:
        f.write(stamp.hexdigest())


def validate(cache, objects):
    done = subprocess.run(["node", os.path.join(cache, "validate.js")], cwd=cache,
                          input=json.dumps(objects), capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).strip()


def semantics(objects):
    """What the issue asks of the manifests; a list of what is missing."""
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    missing = [k for k in ("Namespace", "ConfigMap", "Secret", "DaemonSet",
                           "PodDisruptionBudget") if k not in by_kind]
    if missing:
        return [f"no {k}" for k in missing]
    ds = by_kind["DaemonSet"][0]
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    c = spec["containers"][0]
    problems = []
    if spec.get("hostNetwork") is not True:
        problems.append("DaemonSet: hostNetwork is not true")
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        problems.append("DaemonSet: readiness is not GET /healthz")
    pre_stop = " ".join(c.get("lifecycle", {}).get("preStop", {}).get("exec", {})
                        .get("command", []))
    if "USR2" not in pre_stop or "sleep" not in pre_stop:
        problems.append(f"DaemonSet: preStop does not drain then wait: {pre_stop!r}")
    requests = c.get("resources", {}).get("requests", {})
    if not {"cpu", "memory"} <= set(requests):
        problems.append(f"DaemonSet: requests {requests}")
    notes = pod["metadata"].get("annotations", {})
    if notes.get("prometheus.io/scrape") != "true" or "prometheus.io/port" not in notes:
        problems.append(f"DaemonSet: scrape annotations {notes}")
    pdb = by_kind["PodDisruptionBudget"][0]
    if pdb["spec"]["selector"] != ds["spec"]["selector"]:
        problems.append("PodDisruptionBudget does not select the DaemonSet's pods")
    maps = {o["metadata"]["name"] for o in by_kind["ConfigMap"]}
    for ref in c.get("envFrom", []):
        if ref["configMapRef"]["name"] not in maps:
            problems.append(f"envFrom names a ConfigMap not here: {ref}")
    secrets = {o["metadata"]["name"] for o in by_kind["Secret"]}
    for v in spec.get("volumes", []):
        if "secret" in v and v["secret"]["secretName"] not in secrets:
            problems.append(f"volume names a Secret not here: {v}")
    namespaces = {o["metadata"]["name"] for o in by_kind["Namespace"]}
    for o in objects:
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") not in namespaces:
            problems.append(f"{o['kind']}/{o['metadata']['name']}: namespace not defined here")
    return problems


def flags_known(objects, stunringd):
    """The ConfigMap's flags against stunringd --help."""
    done = subprocess.run([stunringd, "--help"], capture_output=True, text=True, timeout=30)
    known = set(re.findall(r"^  (--[a-z0-9-]+)", done.stdout, re.M))
    maps = [o for o in objects if o["kind"] == "ConfigMap"]
    given = re.findall(r"--[a-z0-9-]+", maps[0]["data"]["STUNRINGD_FLAGS"]) if maps else []
    problems = [f"ConfigMap: {f} is not a flag of stunringd --help" for f in given
                if f not in known]
    if "--metrics" not in given:
        problems.append("ConfigMap: no --metrics, which /healthz and /metrics need")
    return problems


def main():
    manifest_dir, cache = sys.argv[1], os.path.abspath(sys.argv[2])
    failures = []
    files, lint = yamllint(manifest_dir)
    failures += lint
    print(f"yamllint -s: {len(files)} files" + (", clean" if not lint else ""))
    objects = []
    for path in files:
        with open(path) as f:
            objects += [d for d in yaml.safe_load_all(f) if d is not None]
    npm_install(cache)
    code, out = validate(cache, objects)
    print(out)
    if code != 0:
        failures.append("kubernetes-models: an object is invalid")
    broken = copy.deepcopy(objects)
    ds = next(o for o in broken if o["kind"] == "DaemonSet")
    ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "x"
    code, out = validate(cache, broken)
    if code == 0 or "INVALID" not in out:
        failures.append(f"kubernetes-models accepted a port that is not an integer: {out}")
    failures += semantics(objects)
    failures += flags_known(objects, sys.argv[3])
    for f in failures:
        print("FAIL " + f)
    print(f"kubernetes: {len(objects)} objects" + (", ok" if not failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
