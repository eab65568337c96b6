"""AWS access settings end to end on the emulation: an ACM certificate gives an HTTPS listener on
443 with a modern TLS policy (the emulation serves TLS with the certificate it imported into ACM
at start-up) and port 80 redirecting to it; ``scheme = "internal"``; ``allowed_cidrs`` on the
security group; with an API key, deploy gates and a canary swap run over HTTPS through the key,
strangers are refused; a target without a certificate is called plain HTTP by ``plan``."""

from __future__ import annotations

import json

import httpx
import pytest

import modelport.api as mp
from tests.iris import SAMPLE, version_of
from tests.providers.aws.helpers import session, unique, write_spec

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def infer(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/v2/models/iris/infer", json=SAMPLE, headers=headers or {}, timeout=30)


def test_https_internal_keyed_load_balancer(aws_emulation, tmp_path, monkeypatch, api_key):
    aws, (variable, key) = aws_emulation, api_key
    monkeypatch.setenv("SSL_CERT_FILE", str(aws.ca_pem))  # trust the emulation's CA, as a corporate bundle
    name = unique("tls")
    settings = {"endpoint_url": aws.endpoint_url, "region": aws.region, "registry": f"{aws.registry}/modelport",
                "certificate_arn": aws.certificate_arn, "scheme": "internal", "allowed_cidrs": ["127.0.0.0/8", "10.0.0.0/8"]}
    specs = [write_spec(tmp_path / v, name, v, settings, local_targets=()) for v in ("v1", "v2")]
    for spec in specs:
        toml = spec / "modelport.toml"
        toml.write_text(toml.read_text() + f'\n[access]\napi_key = "env:{variable}"\n')
    s = session(tmp_path / "state.db")
    plan = json.dumps(mp.plan(specs[0], "aws", session=s).to_dict())
    assert "HTTPS on 443" in plan and "internal load balancer" in plan and "plain HTTP" not in plan

    first = mp.deploy(specs[0], "aws", session=s)  # gates over HTTPS, with the key
    url = first.endpoint
    assert url.startswith("https://") and ":" not in url.removeprefix("https://")
    assert infer(url).status_code == 401
    assert version_of(infer(url, {"Authorization": f"Bearer {key}"}).json()) == "1"
    plain = httpx.get(url.replace("https://", "http://") + "/v2/health/ready?x=1", timeout=10)
    assert plain.status_code == 301 and plain.headers["location"] == f"{url}/v2/health/ready?x=1"

    elbv2, ec2 = aws.client("elbv2"), aws.client("ec2")
    lb = elbv2.describe_load_balancers(Names=[_lb_name(elbv2, name)])["LoadBalancers"][0]
    assert lb["Scheme"] == "internal"
    listeners = {item["Port"]: item for item in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS" and listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[443]["Certificates"][0]["CertificateArn"] == aws.certificate_arn
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert all(item["Protocol"] == "HTTPS" for port, item in listeners.items() if port != 80)  # test listeners too
    [group] = ec2.describe_security_groups(GroupIds=lb["SecurityGroups"])["SecurityGroups"]
    cidrs = {r["CidrIp"] for p in group["IpPermissions"] for r in p.get("IpRanges", [])}
    assert cidrs == {"127.0.0.0/8", "10.0.0.0/8"}

    canary = mp.swap(specs[1], "aws", strategy="canary", steps=[50, 100], session=s)  # version checks over HTTPS
    assert version_of(infer(canary.endpoint, {"X-API-Key": key}).json()) == "2"
    mp.destroy(name, "aws", session=s)


def _lb_name(elbv2, deployment: str) -> str:
    found = [lb["LoadBalancerName"] for lb in elbv2.describe_load_balancers()["LoadBalancers"] if deployment[-6:] in lb["LoadBalancerName"]]
    assert len(found) == 1, found
    return found[0]


def test_plan_says_plain_http_on_the_internet(aws_emulation, tmp_path):
    aws = aws_emulation
    settings = {"endpoint_url": aws.endpoint_url, "region": aws.region, "registry": f"{aws.registry}/modelport"}
    spec = write_spec(tmp_path / "v1", unique("plain"), "v1", settings, local_targets=())
    plan = mp.plan(spec, "aws", session=session(tmp_path / "state.db"))
    assert "plain HTTP: requests and predictions travel unencrypted on the internet; set certificate_arn" in plan.render()


def test_certificate_settings_are_checked(tmp_path):
    from pydantic import ValidationError

    from modelport_providers.aws.settings import AwsSettings

    with pytest.raises(ValidationError, match="certificate_arn"):
        AwsSettings(certificate_arn="arn:aws:iam::123456789012:server-certificate/x")
    with pytest.raises(ValidationError, match="set certificate_arn too"):
        AwsSettings(domain_name="api.example.com")
    with pytest.raises(ValidationError, match="not a CIDR"):
        AwsSettings(allowed_cidrs=["10.0.0.1/8"])
