"""What Container Instances cannot run is refused at ``validate`` (exit 2 naming the field, before
any build or cloud call): arm64 images, container-group names with consecutive hyphens, invalid
DNS labels, more than one instance or scale to zero, and an ``acr_identity`` that is not a
user-assigned identity. The same spec with an aws/gcp-free azure target that ACI can run passes,
and ``plan`` says what each scaling key becomes (see the translate test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import modelport.api as mp
from modelport.cli import main
from modelport.errors import SpecErrors
from modelport.provider import ImageRef, Target
from modelport_providers.azure import rules
from modelport_providers.azure.provider import AzureProvider
from modelport_providers.azure.settings import AzureSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "iris"
SUB = "00000000-0000-0000-0000-000000000000"
IDENTITY = (f"/subscriptions/{SUB}/resourceGroups/models/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/acr-pull")
TARGET = {"provider": "azure", "subscription_id": SUB, "resource_group": "models", "location": "westeurope",
          "acr": "myregistry"}


def project(tmp_path: Path, *, name: str = "iris", platform: str = "linux/amd64", min_instances: int = 1,
            max_instances: int = 1, **target) -> Path:
    """A valid iris spec folder whose azure target has ``target`` settings on top of TARGET."""
    folder = tmp_path / "p"
    folder.mkdir(exist_ok=True)
    for f in ("model.joblib", "sample.json"):
        shutil.copy(EXAMPLES / f, folder / f)
    settings = "\n".join(f"{k} = {json.dumps(v)}" for k, v in {**TARGET, **target}.items())
    (folder / "modelport.toml").write_text(f'''name = "{name}"
[model]
name = "iris"
version = "1.0.0"
path = "model.joblib"
framework = "sklearn"
[serving]
sample_input = "sample.json"
[build]
platform = "{platform}"
[scaling]
min_instances = {min_instances}
max_instances = {max_instances}
[targets.az]
{settings}
''')
    return folder


def refused(folder: Path) -> dict[str, str]:
    """field -> reason of every error ``validate`` reports (API), checked against the CLI."""
    with pytest.raises(SpecErrors) as caught:
        mp.validate(folder)
    fields = {e.field: e.reason for e in caught.value.errors}
    run = CliRunner().invoke(main, ["validate", str(folder), "--output", "json"])
    assert run.exit_code == 2, run.output
    assert {e["field"] for e in json.loads(run.stdout)["errors"]} == set(fields)
    return fields


def test_a_spec_aci_can_run_is_valid(tmp_path):
    assert mp.validate(project(tmp_path, acr_identity=IDENTITY)).spec.deployment == "iris"


def test_arm64_is_refused_naming_build_platform(tmp_path):
    fields = refused(project(tmp_path, platform="linux/arm64"))
    assert list(fields) == ["build.platform"] and "linux/amd64" in fields["build.platform"]


@pytest.mark.parametrize("name,field", [("ir--is", "name"), ("a--b-c", "name")])
def test_group_name_rules_are_refused_naming_the_name(tmp_path, name, field):
    fields = refused(project(tmp_path, name=name))
    assert list(fields) == [field] and "consecutive hyphens" in fields[field]


def test_every_container_group_name_rule():
    assert rules.group_name_problem("iris-r1") is None
    assert rules.group_name_problem("a" * 63) is None
    for bad, words in (("", "1-63"), ("a" * 64, "1-63"), ("Iris-r1", "lowercase"), ("-iris", "start and end"),
                       ("iris-", "start and end"), ("ir_is", "lowercase"), ("ir--is", "consecutive")):
        assert words in rules.group_name_problem(bad), bad


def test_dns_label_prefix_too_short_is_refused(tmp_path):
    fields = refused(project(tmp_path, dns_label_prefix="a"))
    assert list(fields) == ["targets.az.dns_label_prefix"], fields


@pytest.mark.parametrize("low,high,field", [(1, 2, "scaling.max_instances"), (0, 1, "scaling.min_instances")])
def test_scaling_aci_cannot_do_is_refused(tmp_path, low, high, field):
    fields = refused(project(tmp_path, min_instances=low, max_instances=high))
    assert list(fields) == [field], fields


@pytest.mark.parametrize("bad", [
    "/subscriptions/x/identities/pull",                                   # not a resource id
    f"/subscriptions/{SUB}/resourceGroups/models/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a",
    f"/subscriptions/{SUB}/resourceGroups/models/providers/Microsoft.Storage/storageAccounts/pull",
    "acr-pull",                                                           # a name, not an id
    IDENTITY + "/extra",
])
def test_acr_identity_must_be_a_user_assigned_identity_id(tmp_path, bad):
    fields = refused(project(tmp_path, acr_identity=bad))
    assert list(fields) == ["targets.az.acr_identity"], fields
    assert "Microsoft.ManagedIdentity/userAssignedIdentities" in fields["targets.az.acr_identity"]


def test_all_problems_are_listed_at_once(tmp_path):
    fields = refused(project(tmp_path, name="x--y", platform="linux/arm64", min_instances=0, max_instances=3))
    assert set(fields) == {"build.platform", "name", "scaling.min_instances", "scaling.max_instances"}


def test_identity_is_attached_when_it_pulls():
    from modelport.provider import RevisionSpec, Size

    digest = "sha256:" + "ab" * 32
    rev = RevisionSpec("iris", "r1", ImageRef(digest, digest, f"myregistry.azurecr.io/iris@{digest}"),
                       Size(1, 1024), 8080, {}, {}, 1, 1, 80, "iris", "1.0.0", "c0ffee")
    settings = {k: v for k, v in TARGET.items() if k != "provider"}
    with_identity = Target("az", "azure", AzureSettings(**settings, acr_identity=IDENTITY))
    shown = AzureProvider().translate(rev, with_identity)
    assert shown["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
    assert shown["properties"]["imageRegistryCredentials"] == [
        {"server": "myregistry.azurecr.io", "identity": IDENTITY}]
    assert shown["scaling"].startswith("min_instances 1, max_instances 1 -> one container group, always running")
    assert "concurrency 80 -> not enforced" in shown["scaling"]
    admin = Target("az", "azure", AzureSettings(**settings, acr_username_env="U", acr_password_env="P"))
    assert "identity" not in AzureProvider().translate(rev, admin)


def test_scaling_note_of_a_migrated_revision_says_what_changes():
    note = rules.scaling_note(2, 5, 10)
    assert "min_instances 2, max_instances 5 -> one container group" in note
    assert "exactly one instance" in note and "concurrency 10 -> not enforced" in note
