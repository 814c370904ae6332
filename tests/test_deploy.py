"""The container and the Helm chart, checked offline: hadolint on the Dockerfile, helm lint
and template (helm-python-sdk embeds Helm), Kubernetes schema validation of every rendered
manifest (kubernetes-validate --strict), yamllint, and the plain manifests kept in step."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from omnimigrate.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "omnimigrate"
EXAMPLE = yaml.safe_load((CHART / "ci" / "example-values.yaml").read_text())
K8S = "1.30.0"
CRDS = ("monitoring.coreos.com/v1",)  # CRDs: no schema ships with kubernetes-validate


def render(values=None, name="dr") -> list[dict]:
    chart = helm.Chart.load(str(CHART))
    out = chart.render(values, name=name, namespace="omnimigrate")
    return [
        d
        for k, text in sorted(out.items())
        if k.endswith(".yaml")
        for d in yaml.safe_load_all(text)
        if d
    ]


def by_kind(docs: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    return kinds


def cronjob(kinds: dict[str, list[dict]], component: str) -> dict:
    """The CronJob of one component (backup, drill): its spec."""
    (job,) = [c for c in kinds["CronJob"] if c["metadata"]["name"].endswith(f"-{component}")]
    return job["spec"]


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_chart_lints_clean_with_the_example_values():
    report = helm.lint(str(CHART), EXAMPLE, strict=True)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []


def test_example_values_render_the_whole_deployment_and_validate_strictly():
    docs = render(EXAMPLE)
    kinds = by_kind(docs)
    assert {
        "CronJob",
        "Job",
        "Deployment",
        "Service",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "ServiceMonitor",
        "NetworkPolicy",
    } <= set(kinds)
    cron = cronjob(kinds, "backup")
    assert cron["concurrencyPolicy"] == "Forbid" and cron["failedJobsHistoryLimit"] == 3
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": kinds["Secret"][0]["metadata"]["name"]}}]
    assert (
        pod["securityContext"]["runAsNonRoot"]
        and container["securityContext"]["readOnlyRootFilesystem"]
    )
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert "/var/cache/omnimigrate" in {m["mountPath"] for m in container["volumeMounts"]}
    sa = kinds["ServiceAccount"][0]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert kinds["Deployment"][0]["spec"]["replicas"] == 3
    for doc in docs:
        if doc["apiVersion"] not in CRDS:
            kubernetes_validate.validate(doc, K8S, strict=True)
    config = kinds["ConfigMap"][0]["data"]["config.yaml"]
    assert load_settings_from_text(config).service.replication[0].target == "standby"


def load_settings_from_text(text: str):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(text)
    return load_settings(Path(fh.name))


def test_existing_secret_is_referenced_and_none_is_rendered():
    kinds = by_kind(render({**EXAMPLE, "secret": {"existingSecret": "omni-tokens"}}))
    assert [s["metadata"]["name"] for s in kinds["Secret"]] == ["dr-omnimigrate-events"]
    container = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "omni-tokens"}}]


def cron_container(kinds: dict[str, list[dict]], component: str) -> dict:
    return cronjob(kinds, component)["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def serve_pod(kinds: dict[str, list[dict]]) -> dict:
    return kinds["Deployment"][0]["spec"]["template"]["spec"]


def events_env(container: dict) -> list[dict]:
    return [e for e in container["env"] if e["name"] == "OMNIMIGRATE_EVENTS_TOKEN"]


def test_network_policy_lets_prometheus_reach_metrics_and_only_listed_sources_reach_events():
    kinds = by_kind(render(EXAMPLE))
    (policy,) = kinds["NetworkPolicy"]
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "serve"
    assert spec["policyTypes"] == ["Ingress"]
    metrics, events = spec["ingress"]
    assert metrics == {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
                       "ports": [{"port": 9090, "protocol": "TCP"}]}  # fmt: skip
    assert events == {"from": EXAMPLE["networkPolicy"]["eventsFrom"],
                      "ports": [{"port": 9091, "protocol": "TCP"}]}  # fmt: skip
    container = serve_pod(kinds)["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "metrics": 9090,
        "events": 9091,
    }
    assert container["args"][:3] == ["serve", "--host", "0.0.0.0"]


def test_without_listed_sources_or_a_token_nobody_reaches_events():
    no_sources = {**EXAMPLE, "networkPolicy": {"eventsFrom": []}}
    (policy,) = by_kind(render(no_sources))["NetworkPolicy"]
    assert [rule["ports"][0]["port"] for rule in policy["spec"]["ingress"]] == [9090]
    no_token = {**EXAMPLE, "serve": {"enabled": True}}
    kinds = by_kind(render(no_token))
    (policy,) = kinds["NetworkPolicy"]
    assert [rule["ports"][0]["port"] for rule in policy["spec"]["ingress"]] == [9090]
    container = serve_pod(kinds)["containers"][0]
    assert events_env(container) == [] and [p["name"] for p in container["ports"]] == ["metrics"]
    assert [s["metadata"]["name"] for s in kinds["Secret"]] == ["dr-omnimigrate"]
    opened = {**EXAMPLE, "networkPolicy": {"enabled": False}}
    assert "NetworkPolicy" not in by_kind(render(opened))


def test_the_events_token_comes_from_its_own_secret_and_reaches_only_serve():
    kinds = by_kind(render(EXAMPLE))
    events_secret = next(
        s for s in kinds["Secret"] if s["metadata"]["name"] == "dr-omnimigrate-events"
    )
    assert events_secret["stringData"] == {"OMNIMIGRATE_EVENTS_TOKEN": "example-not-a-real-token"}
    assert events_env(serve_pod(kinds)["containers"][0]) == [{
        "name": "OMNIMIGRATE_EVENTS_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "dr-omnimigrate-events", "key": "OMNIMIGRATE_EVENTS_TOKEN"}},
    }]  # fmt: skip
    restore = kinds["Job"][0]["spec"]["template"]["spec"]["containers"][0]
    crons = [cron_container(kinds, c) for c in ("backup", "drill")]
    assert [events_env(c) for c in (*crons, restore)] == [[], [], []]

    existing = {
        **EXAMPLE,
        "serve": {
            "enabled": True,
            "events": {"existingSecret": "hooks", "existingSecretKey": "bearer"},
        },
    }
    kinds = by_kind(render(existing))
    assert "dr-omnimigrate-events" not in {s["metadata"]["name"] for s in kinds["Secret"]}
    (env,) = events_env(serve_pod(kinds)["containers"][0])
    assert env["valueFrom"]["secretKeyRef"] == {"name": "hooks", "key": "bearer"}
    for doc in render(existing):
        if doc["apiVersion"] not in CRDS:
            kubernetes_validate.validate(doc, K8S, strict=True)


def test_defaults_render_only_the_backup_and_match_the_plain_manifests():
    docs = render(None, name="omnimigrate")
    assert set(by_kind(docs)) == {"CronJob", "ServiceAccount", "Secret", "ConfigMap"}
    assert plain("omnimigrate.yaml") == docs, (
        "deploy/kubernetes/omnimigrate.yaml is stale: re-render it from the chart"
    )


def test_the_monthly_drill_cronjob_drills_the_standby_and_is_never_retried():
    kinds = by_kind(render(EXAMPLE))
    drill, backup = cronjob(kinds, "drill"), cronjob(kinds, "backup")
    assert (drill["schedule"], drill["timeZone"]) == ("0 4 1 * *", "Europe/London")
    assert (
        drill["concurrencyPolicy"] == "Forbid" and drill["jobTemplate"]["spec"]["backoffLimit"] == 0
    )
    assert drill["successfulJobsHistoryLimit"] == 12
    container = cron_container(kinds, "drill")
    assert container["args"] == ["drill", "--snapshot", "latest", "--instance", "prod",
                                 "--target", "standby", "--models"]  # fmt: skip
    assert "command" not in container  # the image's entrypoint is omnimigrate
    same = ("image", "securityContext", "envFrom", "env", "volumeMounts", "resources")
    assert {k: container[k] for k in same} == {k: cron_container(kinds, "backup")[k] for k in same}
    pod = drill["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "drill"
    assert (
        pod["spec"]["securityContext"]
        == backup["jobTemplate"]["spec"]["template"]["spec"]["securityContext"]
    )
    config = load_settings_from_text(kinds["ConfigMap"][0]["data"]["config.yaml"])
    accepted = config.service.restore_target("standby")
    assert accepted is not None and accepted.accept_blocked == ["model:*/dbt Core:yaml"]
    assert "drill" not in {
        c["metadata"]["name"].rsplit("-", 1)[1] for c in by_kind(render(None))["CronJob"]
    }


def test_a_drill_into_an_instance_the_config_lacks_is_refused_at_render():
    values = {**EXAMPLE, "drill": {**EXAMPLE["drill"], "target": "nowhere"}}
    with pytest.raises(helm.HelmError, match=r"drill.target nowhere is not under config.instances"):
        render(values)
    with pytest.raises(helm.HelmError, match=r"schema|backoffLimit"):
        render({**EXAMPLE, "drill": {**EXAMPLE["drill"], "backoffLimit": -1}})


def plain(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / name).read_text()) if d]


def test_the_plain_drill_manifest_is_the_charts_drill_with_a_standby():
    standby = {"url": "https://acme-dr.omniapp.co", "token_env": ["OMNI_STANDBY_TOKEN"]}
    values = {"drill": {"enabled": True}, "config": {"instances": {"standby": standby}}}
    kinds = by_kind(render(values, name="omnimigrate"))
    drill = [c for c in kinds["CronJob"] if c["metadata"]["name"] == "omnimigrate-drill"]
    assert plain("omnimigrate-drill.yaml") == drill, (
        "deploy/kubernetes/omnimigrate-drill.yaml is stale: re-render it from the chart"
    )
    # it mounts the ConfigMap and reads the Secret of omnimigrate.yaml
    base = {d["kind"]: d["metadata"]["name"] for d in plain("omnimigrate.yaml")}
    pod = drill[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["volumes"][0]["configMap"]["name"] == base["ConfigMap"]
    assert pod["containers"][0]["envFrom"][0]["secretRef"]["name"] == base["Secret"]
    assert pod["serviceAccountName"] == base["ServiceAccount"]
    kubernetes_validate.validate(drill[0], K8S, strict=True)


def test_values_that_break_the_schema_are_refused():
    with pytest.raises(helm.HelmError, match=r"token_env|schema"):
        render(
            {
                "config": {
                    "store": "s3://b/p",
                    "instances": {"prod": {"url": "https://a.omniapp.co", "token": "x"}},
                }
            }
        )


@pytest.mark.parametrize(
    "path",
    ["helm/omnimigrate/values.yaml", "helm/omnimigrate/ci/example-values.yaml", "helm/omnimigrate/Chart.yaml",
     "deploy/config.example.yaml", "deploy/kubernetes/omnimigrate.yaml",
     "deploy/kubernetes/omnimigrate-drill.yaml"],
)  # fmt: skip
def test_yaml_files_pass_yamllint(path):
    config = YamlLintConfig(
        "{extends: default, rules: {line-length: {max: 120}, document-start: disable, comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}}}"
    )
    problems = list(linter.run((ROOT / path).read_text(), config))
    assert problems == [], [str(p) for p in problems]


def test_example_config_loads():
    settings = load_settings(ROOT / "deploy" / "config.example.yaml")
    assert settings.service.replication[0].source == "prod" and settings.retention.keep_weekly == 4
    lightdash = settings.instances["ld-staging"]
    assert (lightdash.platform, lightdash.project) == ("lightdash", "Staging")
    assert lightdash.store_name() == "acme.lightdash.cloud-staging"
