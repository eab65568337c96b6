"""The intercepting proxy against the real emulators, read through the official SDKs: requests
pass through unchanged and are recorded with stable call keys; each fault kind reaches the SDK
as that cloud's real error (SDK retries turned off) or is absorbed by the SDK's own retry."""

from __future__ import annotations

import pytest

from moto_fixtures.azure.tls import make_tls_files
from moto_fixtures.proxy import InterceptingProxy

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
def moto():
    from moto_fixtures.aws.server import MotoAws

    server = MotoAws().start()
    try:
        yield server
    finally:
        server.stop()


def _boto(service: str, url: str, region: str, attempts: int):
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))


@pytest.mark.parametrize("service,call,code", [
    ("ecs", "list_clusters", "ThrottlingException"),
    ("elbv2", "describe_load_balancers", "Throttling"),
    ("ec2", "describe_vpcs", "RequestLimitExceeded"),
])
def test_aws_throttle_is_the_code_botocore_parses(moto, service, call, code):
    from botocore.exceptions import ClientError

    with InterceptingProxy(moto.endpoint_url, flavour="aws") as proxy:
        client = _boto(service, proxy.url, moto.region, attempts=1)
        proxy.fail(0, "throttle")
        with pytest.raises(ClientError) as caught:
            getattr(client, call)()
        assert caught.value.response["Error"]["Code"] == code
        getattr(client, call)()  # once only: the next one passes through
        assert len(proxy.requests) == 2 and proxy.faulted == [(0, proxy.calls()[0], "throttle")]


def test_aws_call_keys_and_sdk_retries_through_the_proxy(moto):
    with InterceptingProxy(moto.endpoint_url, flavour="aws") as proxy:
        ecs = _boto("ecs", proxy.url, moto.region, attempts=4)
        elbv2 = _boto("elbv2", proxy.url, moto.region, attempts=4)
        proxy.fail(0, "5xx")
        proxy.fail(2, "reset")
        ecs.create_cluster(clusterName="proxy-test")       # 5xx, then passes
        elbv2.describe_load_balancers()                     # reset, then passes
        assert proxy.calls() == ["ecs CreateCluster"] * 2 + ["elasticloadbalancing DescribeLoadBalancers"] * 2
        assert [c["clusterName"] for c in _boto("ecs", moto.endpoint_url, moto.region, 1)
                .describe_clusters(clusters=["proxy-test"])["clusters"]] == ["proxy-test"]


def test_aws_lost_reply_is_applied_but_the_client_sees_a_reset(moto):
    with InterceptingProxy(moto.endpoint_url, flavour="aws") as proxy:
        ecs = _boto("ecs", proxy.url, moto.region, attempts=1)
        proxy.fail(0, "lost_reply")
        with pytest.raises(Exception) as caught:
            ecs.create_cluster(clusterName="lost-reply")
        assert "Connection" in type(caught.value).__name__ or "connection" in str(caught.value).lower()
        assert proxy.faulted == [(0, "ecs CreateCluster", "lost_reply")]
        # the emulator applied it although the client never heard back
        assert [c["clusterName"] for c in _boto("ecs", moto.endpoint_url, moto.region, 1)
                .describe_clusters(clusters=["lost-reply"])["clusters"]] == ["lost-reply"]


def test_aws_timeout_holds_then_drops(moto):
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    with InterceptingProxy(moto.endpoint_url, flavour="aws", hold_s=0.5) as proxy:
        proxy.fail(0, "timeout")
        with pytest.raises((ConnectionClosedError, ReadTimeoutError)):
            _boto("ecs", proxy.url, moto.region, attempts=1).list_clusters()


@pytest.fixture
def cloud_run():
    from moto_fixtures.gcp import CloudRunEmulator

    emulator = CloudRunEmulator(grace_s=0.5)
    url = emulator.start()
    try:
        yield url
    finally:
        emulator.stop()


def _services(url: str):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import run_v2

    return run_v2.ServicesClient(credentials=AnonymousCredentials(), transport="rest",
                                 client_options=ClientOptions(api_endpoint=url))


def test_gcp_faults_are_google_rpc_errors(cloud_run):
    from google.api_core import exceptions as gexc
    from google.api_core.retry import Retry

    parent = "projects/modelport-test/locations/us-central1"
    with InterceptingProxy(cloud_run, flavour="gcp") as proxy:
        client = _services(proxy.url)
        proxy.fail(0, "throttle")
        proxy.fail(1, "5xx")
        with pytest.raises(gexc.TooManyRequests):
            client.list_services(parent=parent, retry=None)
        with pytest.raises(gexc.ServiceUnavailable):
            client.list_services(parent=parent, retry=None)
        proxy.fail(2, "5xx")
        list(client.list_services(parent=parent, retry=Retry(initial=0.1, timeout=5)))  # 2 fails, 3 passes
        assert proxy.calls() == ["GET /v2/projects/*/locations/*/services"] * 4


def test_gcp_reset_is_a_connection_error(cloud_run):
    import requests

    with InterceptingProxy(cloud_run, flavour="gcp") as proxy:
        proxy.fail(0, "reset")
        with pytest.raises(requests.ConnectionError):
            _services(proxy.url).get_service(name="projects/modelport-test/locations/us-central1/services/x",
                                             retry=None)


@pytest.fixture
def arm():
    from moto_fixtures.azure.fixtures import LOCATION, RESOURCE_GROUP, SUBSCRIPTION_ID
    from moto_fixtures.azure.server import ArmEmulator

    emulator = ArmEmulator()
    emulator.start()
    emulator.add_resource_group(SUBSCRIPTION_ID, RESOURCE_GROUP, LOCATION)
    try:
        yield emulator
    finally:
        emulator.stop()


def _aci(url: str, ca: str, **kwargs):
    from azure.mgmt.containerinstance import ContainerInstanceManagementClient

    from moto_fixtures.azure.credential import StaticTokenCredential
    from moto_fixtures.azure.fixtures import SUBSCRIPTION_ID

    return ContainerInstanceManagementClient(StaticTokenCredential(), SUBSCRIPTION_ID, base_url=url,
                                             connection_verify=ca, **kwargs)


def test_azure_over_tls_with_arm_errors(arm, tmp_path):
    from azure.core.exceptions import HttpResponseError

    from moto_fixtures.azure.fixtures import RESOURCE_GROUP

    tls = make_tls_files(tmp_path)
    with InterceptingProxy(arm.base_url, tls=(str(tls.cert_pem), str(tls.key_pem)), upstream_ca=arm.ca_pem,
                           flavour="azure") as proxy:
        assert proxy.url.startswith("https://")
        client = _aci(proxy.url, str(tls.ca_pem), retry_total=0)
        proxy.fail(0, "throttle")
        with pytest.raises(HttpResponseError) as caught:
            list(client.container_groups.list_by_resource_group(RESOURCE_GROUP))
        assert (caught.value.status_code, caught.value.error.code) == (429, "TooManyRequests")
        proxy.fail(1, "5xx")
        with pytest.raises(HttpResponseError) as caught:
            list(client.container_groups.list_by_resource_group(RESOURCE_GROUP))
        assert (caught.value.status_code, caught.value.error.code) == (503, "ServiceUnavailable")
        retrying = _aci(proxy.url, str(tls.ca_pem), retry_backoff_factor=0.1)
        proxy.fail(2, "reset")
        assert list(retrying.container_groups.list_by_resource_group(RESOURCE_GROUP)) == []
        assert len(proxy.requests) == 4 and len(set(proxy.calls())) == 1
        assert proxy.calls()[0] == ("GET /subscriptions/*/resourceGroups/*/providers/"
                                    "Microsoft.ContainerInstance/containerGroups")
