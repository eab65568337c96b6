"""ARM error bodies: ``{"error": {"code": ..., "message": ...}}``.

Codes and message wording follow what Azure Resource Manager and Container Instances really
return. Verified against public recordings/issue reports: AuthenticationFailed,
NoRegisteredProviderFound, InvalidOsType, ResourceRequestsNotSpecified, InvalidContainerName,
DnsNameLabelAlreadyTaken, MissingIpAddressPorts, PrivateIPAddressNotSupported, InaccessibleImage,
ContainerLimitGreaterThanContainerGroupTotalRequest, ServiceUnavailable (409, resource request
not available in the location), ResourceGroupNotFound, ResourceNotFound, InvalidRequestContent,
LocationRequired, MissingApiVersionParameter, InvalidImageRegistryIdentity (MicrosoftDocs/azure-docs
issue 117644). The remaining codes (see ``MODELLED_CODES``) are named after the same pattern
because no public copy of the real one was found.
"""
from __future__ import annotations

MODELLED_CODES = frozenset({
    "InvalidContainerGroupName", "InvalidDnsNameLabel", "InvalidRestartPolicy",
    "InvalidIpAddressType", "InvalidGpuSku", "InvalidContainerPort", "IpAddressPortsExceedLimit",
    "IpAddressPortNotExposed", "ContainerGroupContainersLimitExceeded",
    "ContainerGroupQuotaReached", "ContainerGroupTransitioning", "PropertyChangeNotAllowed",
    "InvalidResourceRequests", "DuplicateContainerName", "InvalidSku", "InvalidPriority",
    "InvalidProtocol", "ContainerGroupDeploymentFailed", "InvalidDnsNameLabelScope",
})


class ArmError(Exception):
    """An error the emulator answers with an ARM error body and an HTTP status."""

    def __init__(self, status: int, code: str, message: str, target: str | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target

    def body(self) -> dict:
        """The JSON body ARM sends for this error."""
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def bad_request(code: str, message: str, target: str | None = None) -> ArmError:
    """A 400 error."""
    return ArmError(400, code, message, target)


def missing_property(prop: str, path: str) -> ArmError:
    """What ARM's JSON deserializer says when a required property is absent."""
    return bad_request(
        "InvalidRequestContent",
        "The request content was invalid and could not be deserialized: "
        f"'Required property '{prop}' not found in JSON. Path '{path}'.'")


def wrong_type(path: str, expected: str) -> ArmError:
    """What ARM's JSON deserializer says when a value has the wrong JSON type."""
    return bad_request(
        "InvalidRequestContent",
        "The request content was invalid and could not be deserialized: "
        f"'Error converting value at path '{path}': expected {expected}.'")


def group_not_found(rg: str, name: str) -> ArmError:
    """404 for a container group that does not exist."""
    return ArmError(404, "ResourceNotFound",
                    f"The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under "
                    f"resource group '{rg}' was not found. For more details please go to "
                    "https://aka.ms/ARMResourceNotFoundFix")


def resource_group_not_found(rg: str) -> ArmError:
    """404 for a resource group that does not exist."""
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
