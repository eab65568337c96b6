"""One test per size rule of the azure provider (limits.toml, Container Instances)."""

from __future__ import annotations

import pytest

from modelport.errors import SpecError
from modelport.provider import Size, Target
from modelport_providers.azure import sizes
from modelport_providers.azure.provider import AzureProvider
from modelport_providers.azure.settings import AzureSettings

SUB = "00000000-0000-0000-0000-000000000000"


def target(**kw) -> Target:
    return Target("az", "azure", AzureSettings(subscription_id=SUB, resource_group="rg", location="eastus",
                                               acr="myacr", **kw))


def field(err) -> str:
    return err.value.field


def test_limits_table_is_the_reference_copy():
    lim = sizes.load_limits()
    assert lim.table_version == "2026-11-25.1"
    assert lim.maxima(False) == (4.0, 16.0) and lim.gpu_skus == ["V100"]


def test_valid_size_passes_unchanged():
    p = AzureProvider()
    p.check_size(Size(1, 1024), target())
    assert p.fit_size(Size(0.5, 512), target()) == (Size(0.5, 512), [])


def test_rule_cpu_above_group_maximum():
    with pytest.raises(SpecError, match="at most 4 vCPU") as err:
        AzureProvider().check_size(Size(6, 4096), target())
    assert field(err) == "resources.cpu"
    fitted, notes = AzureProvider().fit_size(Size(6, 4096), target())
    assert fitted == Size(4.0, 4096) and "LESS cpu" in notes[0]


def test_rule_cpu_must_be_positive():
    with pytest.raises(SpecError, match="resources.cpu|more than 0"):
        sizes.check_size(Size(0, 1024))


def test_rule_memory_above_group_maximum():
    with pytest.raises(SpecError, match="at most 16 GB") as err:
        AzureProvider().check_size(Size(2, 20480), target())
    assert field(err) == "resources.memory"
    with pytest.raises(SpecError, match="nothing close"):
        AzureProvider().fit_size(Size(2, 20480), target())


def test_rule_vnet_maxima_apply_in_a_subnet():
    in_vnet = target(subnet_id="/subscriptions/x/subnets/aci")
    with pytest.raises(SpecError, match="in a VNet"):
        AzureProvider().check_size(Size(5, 1024), in_vnet)


def test_rule_memory_steps_of_a_tenth_gb():
    with pytest.raises(SpecError, match="steps of 0.1 GB") as err:
        AzureProvider().check_size(Size(1, 1000), target())
    assert field(err) == "resources.memory"
    fitted, notes = AzureProvider().fit_size(Size(1, 1000), target())
    assert fitted == Size(1, 1024) and "1000 -> 1024 MiB" in notes[0]
    fitted, _ = AzureProvider().fit_size(Size(1, 600), target())
    assert sizes.memory_gb(fitted.memory_mib) == 0.6
    AzureProvider().check_size(fitted, target())


def test_rule_gpu_sku_offered():
    with pytest.raises(SpecError, match="V100") as err:
        AzureProvider().check_size(Size(4, 8192, 1, "K80"), target())
    assert field(err) == "resources.gpu_type"
    fitted, notes = AzureProvider().fit_size(Size(4, 8192, 1, None), target())
    assert fitted.gpu_type == "V100" and "V100" in notes[0]


def test_rule_gpu_counts():
    with pytest.raises(SpecError, match="1, 2, 4") as err:
        AzureProvider().check_size(Size(4, 8192, 3, "V100"), target())
    assert field(err) == "resources.gpu"
    fitted, notes = AzureProvider().fit_size(Size(4, 8192, 3, "V100"), target())
    assert fitted.gpu == 4 and "gpu 3 -> 4" in notes[0]
    with pytest.raises(SpecError):
        AzureProvider().fit_size(Size(4, 8192, 8, "V100"), target())


def test_rule_gpu_size_maxima():
    AzureProvider().check_size(Size(6, 112 * 1024, 1, "V100"), target())  # above the no-GPU maxima
    with pytest.raises(SpecError, match="at most 6 vCPU for 1 V100 GPU"):
        AzureProvider().check_size(Size(8, 8192, 1, "V100"), target())
    with pytest.raises(SpecError, match="at most 112 GB"):
        AzureProvider().check_size(Size(6, 120 * 1024, 1, "V100"), target())


def test_rule_no_gpu_in_a_vnet():
    with pytest.raises(SpecError, match="virtual network") as err:
        AzureProvider().check_size(Size(4, 8192, 1, "V100"), target(subnet_id="/subscriptions/x/subnets/a"))
    assert field(err) == "resources.gpu"
