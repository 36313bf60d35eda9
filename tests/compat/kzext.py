"""Small additions to kazoo 2.11 for requests it does not expose."""

from kazoo.protocol.serialization import Create2
from kazoo.security import OPEN_ACL_UNSAFE

CONTAINER_FLAG = 4


class CreateContainer(Create2):
    """createContainer (opcode 19): same body as create2, flags must be CONTAINER (4)."""

    type = 19


def create_container(client, path, value=b"", acl=None, timeout=10.0):
    """Create a container node; returns (path, stat) like create(..., include_data=True)."""
    async_result = client.handler.async_result()
    client._call(
        CreateContainer(path, value, acl or OPEN_ACL_UNSAFE, CONTAINER_FLAG), async_result
    )
    return async_result.get(timeout=timeout)
