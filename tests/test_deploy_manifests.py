"""deploy/kubernetes/: the LocustTest, its ConfigMap and image, as the Locust operator reads them.

No cluster and no image build here (deploy/kubernetes/README.md says so), so what can be checked
without them is checked for real:

- the LocustTest against the vendored CRD's openAPIV3Schema, with what the API server adds: an
  unknown field is refused (`kubectl apply` validates strictly; without that it is pruned, which
  loses it just the same);
- the ConfigMap's data against the repository's files, byte for byte;
- the args as the operator hands them to the image's `locust` (`--master ...` on the master,
  `--worker --master-host ...` on each worker), with the ConfigMap laid out as the pods see it:
  through Locust's own command line (`--list` parses every option, the locustfile's included,
  and exits before any traffic), then through the plan the locustfile builds from them (profile,
  SLO gates, generator limits, allow-list: every file read as the run would read it);
- the Dockerfile's pins against constraints.txt and the package's version.

Locust patches the standard library with gevent on import: it runs only in subprocesses here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import octopus_qa

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "kubernetes"
CRD_FILE = DEPLOY / "crd" / "locusttest.yaml"
CRD_NOTE = DEPLOY / "crd" / "README.md"
LOCUSTTEST_FILE = DEPLOY / "locusttest.yaml"
CONFIGMAP_FILE = DEPLOY / "configmap.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
#: Where the operator mounts the locustfile ConfigMap in every pod (LOCUST_BASE_PATH in
#: locust_operator/objects.py), which is also the Locust image's working directory.
MOUNT = "/home/locust"
#: configmap.yaml's annotation per key, naming the repository file the key copies.
SOURCE_ANNOTATION = "source.octopus-cards-qa/"
USER_CLASSES = {"Browser", "CatalogCrawler", "TokenChurner"}
CREDENTIAL_VARIABLES = {"OCTOPUS_USERNAME", "OCTOPUS_PASSWORD"}
LOCUST = Path(sys.executable).with_name("locust")
LOCUST_TIMEOUT_S = 120
#: Service names the operator derives from the LocustTest's name: DNS-1035 labels.
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
#: Extensions that change how lists and maps merge, not what is valid.
MERGE_EXTENSIONS = {"x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type"}


def the_document(path: Path) -> Any:
    (document,) = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return dict(the_document(CRD_FILE))


@pytest.fixture
def locusttest() -> dict[str, Any]:
    return dict(the_document(LOCUSTTEST_FILE))


@pytest.fixture(scope="module")
def configmap() -> dict[str, Any]:
    return dict(the_document(CONFIGMAP_FILE))


# --- The CRD's schema, as the API server applies it ----------------------------------------------


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One node of a structural schema as JSON Schema draft 4 (which OpenAPI 3.0 extends), plus
    what the API server does: unknown fields refused unless x-kubernetes-preserve-unknown-fields,
    `nullable`, int-or-string, and defaults filling required fields before validation."""
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            converted[key] = {name: to_json_schema(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            converted[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            converted[key] = [to_json_schema(child) for child in value]
        elif key.startswith("x-kubernetes-"):
            _understood(key)
        elif key != "nullable":
            converted[key] = value
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
    if node.get("x-kubernetes-int-or-string"):
        converted.pop("type", None)
        converted = {"allOf": [converted, {"type": ["integer", "string"]}]}
    if node.get("x-kubernetes-embedded-resource"):
        converted.setdefault("properties", {}).update(OBJECT_HEADER)
    if _closed(node):
        converted["additionalProperties"] = False
    defaulted = {name for name, child in node.get("properties", {}).items() if "default" in child}
    if required := [name for name in node.get("required", ()) if name not in defaulted]:
        converted["required"] = required
    else:
        converted.pop("required", None)
    return converted


def _closed(node: dict[str, Any]) -> bool:
    """An object whose fields are only those it declares: any other is refused by strict field
    validation (and pruned without it, so it never reaches the operator either way)."""
    is_object = node.get("type") == "object" or "properties" in node
    return (
        is_object
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    )


def _understood(extension: str) -> None:
    """An extension this converter does not apply must not pass silently (CEL rules in
    x-kubernetes-validations, say, cannot be evaluated here)."""
    known = MERGE_EXTENSIONS | {
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
    }
    if extension not in known:
        raise NotImplementedError(f"{extension}: this test does not apply it; extend it first")


OBJECT_HEADER = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    # ObjectMeta is validated by the API server itself, not by the CRD's schema.
    "metadata": {"type": "object"},
}


def served_version(crd: dict[str, Any], api_version: str) -> dict[str, Any]:
    group, _, version = api_version.partition("/")
    assert group == crd["spec"]["group"], (
        f"{api_version}: the CRD's group is {crd['spec']['group']}"
    )
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    assert version in served, f"apiVersion {api_version}: the CRD serves {sorted(served)}"
    return dict(served[version])


def validator_for(crd: dict[str, Any], api_version: str) -> jsonschema.Draft4Validator:
    schema = to_json_schema(served_version(crd, api_version)["schema"]["openAPIV3Schema"])
    schema.setdefault("properties", {}).update(copy.deepcopy(OBJECT_HEADER))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def problems(crd: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    """What the API server would refuse in `resource`, one line per problem, by field path."""
    assert resource["kind"] == crd["spec"]["names"]["kind"]
    validator = validator_for(crd, resource["apiVersion"])
    return sorted(
        f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(resource)
    )


def test_every_manifest_parses() -> None:
    manifests = sorted(DEPLOY.rglob("*.yaml"))
    assert {CRD_FILE, LOCUSTTEST_FILE, CONFIGMAP_FILE} <= set(manifests)
    for path in manifests:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert isinstance(document, dict) and document.get("apiVersion"), path
            assert document.get("kind"), path


def test_crd_is_the_vendored_file_unedited() -> None:
    """crd/README.md names the upstream commit and the file's sha256: the copy is that file."""
    noted = re.search(r"sha256 \| `([0-9a-f]{64})`", CRD_NOTE.read_text(encoding="utf-8"))
    assert noted, "crd/README.md does not note the CRD's sha256"
    assert hashlib.sha256(CRD_FILE.read_bytes()).hexdigest() == noted.group(1)


def test_locusttest_is_valid_for_the_crd(crd: dict[str, Any], locusttest: dict[str, Any]) -> None:
    assert problems(crd, locusttest) == []


@pytest.mark.parametrize(
    ("change", "refused_at"),
    [
        (lambda spec: spec.update(wrokers=spec.pop("workers")), "spec"),
        (lambda spec: spec.update(workers="4"), "spec.workers"),
        (lambda spec: spec.update(workers=0), "spec.workers"),
        (lambda spec: spec["locustfile"].update(content="print()"), "spec.locustfile"),
        (lambda spec: spec["worker"].update(replicas=4), "spec.worker"),
    ],
    ids=["misspelt-field", "string-count", "no-worker", "two-locustfiles", "unknown-nested"],
)
def test_schema_check_refuses_a_broken_locusttest(
    crd: dict[str, Any], locusttest: dict[str, Any], change: Any, refused_at: str
) -> None:
    """The validation above can fail: each of these is refused, at the field that is wrong."""
    change(locusttest["spec"])
    found = problems(crd, locusttest)
    assert found and all(line.startswith(refused_at + ":") for line in found), found


def test_no_credentials_in_the_manifest_and_none_can_come_from_a_secret(
    crd: dict[str, Any], locusttest: dict[str, Any]
) -> None:
    """This operator's env entries are literal values: a Secret reference is refused, and an
    inline password would sit in the LocustTest for anyone who can read it. So there is none."""
    names = {entry["name"] for entry in locusttest["spec"].get("env", [])}
    assert not names & CREDENTIAL_VARIABLES
    secret = {"secretKeyRef": {"name": "octopus-api", "key": "password"}}
    locusttest["spec"]["env"] = [{"name": "OCTOPUS_PASSWORD", "valueFrom": secret}]
    assert problems(crd, locusttest) == [
        "spec.env.0: Additional properties are not allowed ('valueFrom' was unexpected)"
    ]


def test_names_the_operator_derives_are_valid(
    locusttest: dict[str, Any], configmap: dict[str, Any]
) -> None:
    name = locusttest["metadata"]["name"]
    for service in (f"{name}-master", f"{name}-webui"):  # the operator's two Services
        assert DNS_1035_LABEL.match(service), service
    assert locusttest["spec"]["locustfile"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert all(CONFIGMAP_KEY.match(key) for key in configmap["data"])


# --- The ConfigMap: the repository's files, as the pods see them ---------------------------------


def test_configmap_carries_the_repository_files_byte_for_byte(configmap: dict[str, Any]) -> None:
    annotations = configmap["metadata"]["annotations"]
    sources = {
        key.removeprefix(SOURCE_ANNOTATION): path
        for key, path in annotations.items()
        if key.startswith(SOURCE_ANNOTATION)
    }
    assert set(sources) == set(configmap["data"]), "every key names the file it copies"
    assert sources["locustfile.py"] == "load/locustfile.py"
    for key in ("profiles.toml", "slo.toml", "generator.toml"):
        assert sources[key] == f"load/{key}"
    for key, path in sources.items():
        assert configmap["data"][key].encode("utf-8") == (REPO / path).read_bytes(), (
            f"configmap.yaml's {key} differs from {path}: run deploy/kubernetes/render_configmap.py"
        )


def test_configmap_is_as_the_script_writes_it() -> None:
    script = DEPLOY / "render_configmap.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def pod_home(tmp_path: Path, configmap: dict[str, Any]) -> Path:
    """The ConfigMap's keys as files, standing in for the operator's mount at /home/locust."""
    home = tmp_path / "home-locust"
    home.mkdir()
    for key, text in configmap["data"].items():
        (home / key).write_bytes(text.encode("utf-8"))
    return home


def test_every_file_the_args_name_is_in_the_configmap(
    locusttest: dict[str, Any], configmap: dict[str, Any]
) -> None:
    named = [arg for arg in shlex.split(locusttest["spec"]["args"]) if arg.startswith(MOUNT)]
    assert named, "the args name the mounted files"
    for arg in named:
        assert arg.removeprefix(MOUNT + "/") in configmap["data"], arg


# --- The args, through Locust and through the locustfile's plan ----------------------------------


def command_lines(locusttest: dict[str, Any]) -> dict[str, list[str]]:
    """The arguments the operator gives the image's `locust` entrypoint (build_master_job and
    build_worker_job in locust_operator/objects.py): the same spec.args for every pod."""
    args = shlex.split(locusttest["spec"].get("args", ""))
    master_service = f"{locusttest['metadata']['name']}-master"
    return {
        "master": ["--master", *args],
        "worker": ["--worker", "--master-host", master_service, *args],
    }


def run_in_pod(
    home: Path, locusttest: dict[str, Any], command: list[str]
) -> subprocess.CompletedProcess[str]:
    """`command` as a pod runs it: in the mount, the mount's paths mapped to `home`, with only
    the LocustTest's env (no LOCUST_* or OCTOPUS_* of this machine leaking in)."""
    env = {"PATH": f"{LOCUST.parent}:/usr/bin:/bin", "HOME": str(home)}
    env |= {entry["name"]: entry.get("value", "") for entry in locusttest["spec"].get("env", [])}
    mapped = [arg.replace(MOUNT + "/", f"{home}/") for arg in command]
    return subprocess.run(
        mapped, cwd=home, env=env, capture_output=True, text=True, timeout=LOCUST_TIMEOUT_S
    )


@pytest.mark.parametrize("role", ["master", "worker"])
def test_locust_accepts_the_command_line(
    role: str, pod_home: Path, locusttest: dict[str, Any]
) -> None:
    """Locust parses every option (the locustfile's own included, an unknown one is exit 2) and
    its mode checks, then `--list` names the user classes and exits before any traffic."""
    command = [str(LOCUST), *command_lines(locusttest)[role], "--list"]
    done = run_in_pod(pod_home, locusttest, command)
    assert done.returncode == 0, done.stderr[-2000:]
    assert USER_CLASSES <= set(done.stdout.split()), done.stdout


def test_locust_refuses_a_misspelt_option(pod_home: Path, locusttest: dict[str, Any]) -> None:
    """The check above can fail: one letter off, and Locust stops with its usage error."""
    master = command_lines(locusttest)["master"]
    misspelt = [arg.replace("--load-profile", "--load-profle") for arg in master]
    assert misspelt != master
    done = run_in_pod(pod_home, locusttest, [str(LOCUST), *misspelt, "--list"])
    assert done.returncode == 2
    assert "unrecognized arguments: --load-profle" in done.stderr


#: What `locust` does first (import the locustfile, whose plugin adds its options; parse), then
#: what the locustfile does at start-up (build the run's plan from those options).
PLAN_PROBE = """
import json, sys
from locust.argument_parser import get_locustfiles_locally, get_parser, parse_locustfile_option
from locust.main import merge_locustfiles_content
from octopus_qa.errors import OctoqaError
from octopus_qa.loadtest.locust_plugin import plan_from_options

argv = sys.argv[1:]
merge_locustfiles_content(get_locustfiles_locally(parse_locustfile_option(argv)))
options = get_parser().parse_args(argv)
try:
    plan = plan_from_options(options, options.host)
except OctoqaError as exc:
    print(exc, file=sys.stderr)
    sys.exit(exc.exit_code)
print(json.dumps({
    "host": options.host,
    "expect_workers": options.expect_workers,
    "target": plan.target.url,
    "profile": plan.load.profile.name if plan.load.profile else None,
    "load_profile": options.load_profile,
    "gated": plan.load.slo is not None,
    "max_workers": plan.load.limits.max_workers,
    "credentials": plan.credentials.source,
}))
"""


def plan_of(
    home: Path, locusttest: dict[str, Any], command: list[str]
) -> subprocess.CompletedProcess[str]:
    return run_in_pod(home, locusttest, [sys.executable, "-c", PLAN_PROBE, *command])


def test_the_args_make_the_run_they_mean(pod_home: Path, locusttest: dict[str, Any]) -> None:
    """Every file read and checked as the run's start-up would (exit 2 on any problem): the
    profile exists, the gates parse, the target is on the mounted allow-list; the master waits
    for exactly the workers the operator starts, no more than the profiles' cap allows."""
    done = plan_of(pod_home, locusttest, command_lines(locusttest)["master"])
    assert done.returncode == 0, done.stderr[-2000:]
    plan = json.loads(done.stdout.splitlines()[-1])
    assert plan["target"] == plan["host"] and plan["host"].startswith("http")
    assert plan["profile"] == plan["load_profile"] and plan["profile"]
    assert plan["gated"], "the SLO gates judge the run and set the master's exit code"
    workers = locusttest["spec"]["workers"]
    assert plan["expect_workers"] == workers
    assert workers <= plan["max_workers"]
    assert plan["credentials"] == "demo account"


def test_a_target_off_the_allow_list_is_refused(pod_home: Path, locusttest: dict[str, Any]) -> None:
    """The check above can fail: the same args aimed at an unlisted host stop with exit 2."""
    master = command_lines(locusttest)["master"]
    host = master[master.index("--host") + 1]
    elsewhere = [arg.replace(host, "https://elsewhere.example.com") for arg in master]
    done = plan_of(pod_home, locusttest, elsewhere)
    assert done.returncode == 2
    assert "refusing to send load to 'elsewhere.example.com'" in done.stderr


# --- The image -----------------------------------------------------------------------------------


def pinned() -> dict[str, str]:
    """constraints.txt as {normalized name: version}."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, separator, version = line.partition("==")
        if separator and not line.startswith("#"):
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def dockerfile_args() -> dict[str, str]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))


def test_dockerfile_pins_what_constraints_pin() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    args = dockerfile_args()
    assert args["LOCUST_VERSION"] == pinned()["locust"]
    assert args["OCTOQA_VERSION"] == octopus_qa.__version__
    assert re.search(r"^FROM locustio/locust:\$\{LOCUST_VERSION\}$", text, re.MULTILINE)
    assert "--constraint /tmp/octoqa/constraints.txt /tmp/octoqa" in text
    # The operator passes arguments only: the entrypoint must stay Locust's.
    assert not re.search(r"^(ENTRYPOINT|CMD)\b", text, re.MULTILINE)


def test_locusttest_runs_the_image_the_dockerfile_builds(locusttest: dict[str, Any]) -> None:
    args = dockerfile_args()
    tag = locusttest["spec"]["image"].rpartition(":")[2]
    assert tag == f"{args['OCTOQA_VERSION']}-locust{args['LOCUST_VERSION']}"


# --- kustomize -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kustomized() -> Iterator[list[dict[str, Any]]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (its kustomize builds deploy/kubernetes offline)")
    done = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    yield list(yaml.safe_load_all(done.stdout))


def test_kustomize_builds_the_configmap_before_the_locusttest(
    kustomized: list[dict[str, Any]], configmap: dict[str, Any]
) -> None:
    """`kubectl apply -k` must create the ConfigMap first: the operator gives up on a LocustTest
    whose ConfigMap is missing."""
    assert [document["kind"] for document in kustomized] == ["ConfigMap", "LocustTest"]
    assert kustomized[0]["data"] == configmap["data"]
