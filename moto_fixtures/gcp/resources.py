"""Cloud Run cpu / memory / GPU / concurrency rules, driven by the limits table."""

from __future__ import annotations

import re

from .errors import invalid
from .limits import CloudRunLimits

_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$")
_FACTORS_MIB = {
    None: 1 / (1024 * 1024), "k": 1000 / 1048576, "K": 1000 / 1048576, "Ki": 1 / 1024,
    "M": 1e6 / 1048576, "Mi": 1, "G": 1e9 / 1048576, "Gi": 1024,
    "T": 1e12 / 1048576, "Ti": 1024 * 1024,
}
GPU_KEY = "nvidia.com/gpu"
GEN2 = "EXECUTION_ENVIRONMENT_GEN2"


def parse_cpu(value: str, field: str) -> float:
    """CPU quantity ("1", "0.5", "500m") in vCPU."""
    text = str(value).strip()
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise invalid(f"Invalid value for cpu: '{value}' is not a CPU quantity.", field) from None


def parse_memory_mib(value: str, field: str) -> float:
    """Memory quantity ("512Mi", "2Gi", "1G", bytes) in MiB."""
    match = _MEMORY.match(str(value).strip())
    if not match:
        raise invalid(f"Invalid value for memory: '{value}' is not a memory quantity "
                      "(e.g. 512Mi, 2Gi).", field)
    return float(match.group(1)) * _FACTORS_MIB[match.group(2)]


def _fmt(cpu: float) -> str:
    return f"{cpu:g}"


def check_cpu(cpu: float, limits: CloudRunLimits, field: str) -> None:
    """Whole values from the documented list above 1; fractional in [min, 1) on the step."""
    # limits.toml [gcp.cloud_run.cpu] (https://cloud.google.com/run/docs/configuring/services/cpu).
    rules = limits.cpu
    if cpu >= rules["fractional_max"] - 1e-9:
        options = rules["whole_options"]
        if not any(abs(cpu - o) < 1e-9 for o in options):
            raise invalid(f"Invalid value for cpu: {_fmt(cpu)}. Supported values are "
                          f"{', '.join(map(str, options))} or a fraction between "
                          f"{rules['fractional_min']} and {rules['fractional_max']}.", field)
        return
    if cpu < rules["fractional_min"] - 1e-9:
        raise invalid(f"Invalid value for cpu: {_fmt(cpu)}. The minimum is "
                      f"{rules['fractional_min']}.", field)
    steps = cpu / rules["fractional_increment"]
    if abs(steps - round(steps)) > 1e-6:
        raise invalid(f"Invalid value for cpu: {_fmt(cpu)}. Fractional cpu must be a multiple "
                      f"of {rules['fractional_increment']}.", field)


def check_fractional(cpu: float, template: dict, resources: dict, limits: CloudRunLimits,
                     field: str) -> None:
    """Less than one cpu needs concurrency 1, request-based billing and gen1."""
    # The CPU page, "If you use less than 1 vCPU" (limits.toml [gcp.cloud_run.cpu] fractional_*).
    rules = limits.cpu
    if cpu >= rules["fractional_max"] - 1e-9:
        return
    needed = rules["fractional_requires_max_concurrency"]
    concurrency = template.get("maxInstanceRequestConcurrency") or limits.concurrency["default"]
    if concurrency > needed:
        raise invalid(f"Total cpu < 1 is not supported with concurrency > {needed}: "
                      f"set maxInstanceRequestConcurrency to {needed} (got {concurrency}).",
                      "service.template.max_instance_request_concurrency")
    if not resources.get("cpuIdle", False):
        raise invalid(f"Total cpu < 1 requires {rules['fractional_requires_billing']} billing "
                      "(CPU only allocated during requests): set resources.cpu_idle to true.",
                      field)
    if template.get("executionEnvironment") == GEN2:
        needed_env = rules["fractional_requires_execution_environment"]
        raise invalid(f"Total cpu < 1 requires the {needed_env} execution environment.",
                      "service.template.execution_environment")


def check_memory(cpu: float, memory_mib: float, template: dict, limits: CloudRunLimits,
                 field: str) -> None:
    """Memory within the absolute bounds and within the range the cpu allows."""
    # limits.toml [gcp.cloud_run.memory] (the memory page) and cpu_memory_table (the CPU page's
    # table; below 1 vCPU the stricter of the CPU and memory pages, the table says why).
    mem = limits.memory
    gen2 = template.get("executionEnvironment") == GEN2
    floor = mem["min_mib_gen2"] if gen2 else mem["min_mib_gen1"]
    if memory_mib < floor - 1e-6:
        raise invalid(f"Invalid value for memory: {memory_mib:g}Mi is below the minimum of "
                      f"{floor}Mi for this execution environment.", field)
    if memory_mib > mem["max_mib"] + 1e-6:
        raise invalid(f"Invalid value for memory: {memory_mib:g}Mi exceeds the maximum of "
                      f"{mem['max_mib']}Mi.", field)
    top = limits.max_memory_mib_for_cpu(cpu)
    # Fractional rows: the stricter of the CPU page and the memory page (limits.toml says why).
    if not top:
        first = limits.cpu_memory_table[0]
        raise invalid(f"Invalid value for cpu: {_fmt(cpu)}. The smallest memory limit "
                      f"({first['memory_max_mib']}Mi) needs at least {_fmt(first['cpu'])} cpu.",
                      field.rsplit(".", 1)[0] + ".cpu")
    if memory_mib > top + 1e-6:
        need = limits.min_cpu_for_memory(memory_mib)
        raise invalid(f"Invalid value for memory: {memory_mib:g}Mi with {_fmt(cpu)} cpu. "
                      f"With {_fmt(cpu)} cpu memory must be at most {top}Mi; "
                      f"{memory_mib:g}Mi needs at least {_fmt(need)} cpu.", field)
    low = limits.min_memory_mib_for_cpu(cpu)
    if memory_mib < low - 1e-6:
        raise invalid(f"Invalid value for memory: {_fmt(cpu)} cpu requires at least {low}Mi "
                      f"of memory (got {memory_mib:g}Mi).", field)


def check_gpu(limit_map: dict, cpu: float, memory_mib: float, resources: dict, template: dict,
              limits: CloudRunLimits, field: str) -> None:
    """GPU count, accelerator type, minimum cpu/memory and instance-based billing."""
    # limits.toml [gcp.cloud_run.gpu] (https://cloud.google.com/run/docs/configuring/services/gpu).
    gpu = limits.gpu
    accelerator = (template.get("nodeSelector") or {}).get("accelerator")
    count = limit_map.get(GPU_KEY)
    if count is None:
        if accelerator:
            raise invalid("node_selector.accelerator is set but no 'nvidia.com/gpu' limit is "
                          "requested.", "service.template.node_selector.accelerator")
        return
    if str(count) not in {str(n) for n in range(1, gpu["max_per_instance"] + 1)}:
        raise invalid(f"Invalid value for nvidia.com/gpu: '{count}'. At most "
                      f"{gpu['max_per_instance']} GPU per instance.", field)
    if accelerator != gpu["accelerator"]:
        raise invalid(f"A GPU requires node_selector.accelerator '{gpu['accelerator']}' "
                      f"(got '{accelerator or ''}').", "service.template.node_selector.accelerator")
    if cpu < gpu["min_cpu"] - 1e-9:
        raise invalid(f"A GPU requires at least {gpu['min_cpu']} cpu (got {_fmt(cpu)}).", field)
    if memory_mib < gpu["min_memory_mib"] - 1e-6:
        raise invalid(f"A GPU requires at least {gpu['min_memory_mib']}Mi of memory "
                      f"(got {memory_mib:g}Mi).", field)
    if gpu.get("requires_instance_based_billing") and resources.get("cpuIdle", False):
        raise invalid("A GPU requires instance-based billing (CPU always allocated): set "
                      "resources.cpu_idle to false.", field)


def check_concurrency(template: dict, limits: CloudRunLimits) -> None:
    """maxInstanceRequestConcurrency is 0 (default) or 1..max."""
    # limits.toml [gcp.cloud_run.concurrency] (https://cloud.google.com/run/docs/about-concurrency).
    value = template.get("maxInstanceRequestConcurrency", 0)
    top = limits.concurrency["max"]
    if value < 0 or value > top:
        raise invalid(f"max_instance_request_concurrency must be between 1 and {top} "
                      f"(got {value}).", "service.template.max_instance_request_concurrency")


def check_resources(container: dict, template: dict, limits: CloudRunLimits, field: str) -> None:
    """All size rules for one container of a revision template."""
    resources = container.get("resources") or {}
    limit_map = resources.get("limits") or {}
    unknown = set(limit_map) - {"cpu", "memory", GPU_KEY}
    if unknown:
        raise invalid(f"Unsupported resource limits: {', '.join(sorted(unknown))}. Only "
                      f"'cpu', 'memory' and '{GPU_KEY}' are supported.", f"{field}.limits")
    cpu = parse_cpu(limit_map.get("cpu", limits.cpu["default"]), f"{field}.limits.cpu")
    memory = parse_memory_mib(limit_map.get("memory", f"{limits.memory['default_mib']}Mi"),
                              f"{field}.limits.memory")
    check_cpu(cpu, limits, f"{field}.limits.cpu")
    check_concurrency(template, limits)
    check_fractional(cpu, template, resources, limits, f"{field}.limits.cpu")
    check_memory(cpu, memory, template, limits, f"{field}.limits.memory")
    check_gpu(limit_map, cpu, memory, resources, template, limits, f"{field}.limits")
