"""Instance types: the smallest current-generation type with at least the source's CPUs and memory."""

from __future__ import annotations

from typing import Any

from providers.types import ProviderError

# families whose instances need nothing special (no GPU, no local-disk-only, no burst credits surprises)
GENERAL_FAMILIES = ("m5", "m6i", "m7i", "c5", "c6i", "r5", "r6i", "t3")


def best_fit(types: list[dict[str, Any]], cpus: int, memory_mb: int, architecture: str = "x86_64") -> str:
    """The type with enough vCPUs and memory, fewest vCPUs then least memory (general families first).

    Args:
        types: ``describe_instance_types`` items.
        cpus: the source's CPUs.
        memory_mb: the source's memory.
        architecture: ``x86_64`` or ``arm64``.
    """
    fits = []
    for item in types:
        vcpus = item.get("VCpuInfo", {}).get("DefaultVCpus", 0)
        mem = item.get("MemoryInfo", {}).get("SizeInMiB", 0)
        archs = item.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
        if vcpus < cpus or mem < memory_mb or (archs and architecture not in archs):
            continue
        if item.get("BareMetal") or item.get("CurrentGeneration") is False:
            continue
        name = item["InstanceType"]
        general = name.split(".")[0] in GENERAL_FAMILIES
        fits.append((not general, vcpus, mem, name))
    if not fits:
        raise ProviderError(f"no {architecture} instance type has {cpus} vCPUs and {memory_mb} MiB")
    return min(fits)[3]
