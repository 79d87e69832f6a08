"""moto server, with DynamoDB's atomic conditional writes.

moto applies a write as read, check condition, write, without a lock, on a
threaded server: two concurrent conditional writes to one item can
interleave, and one can overwrite the other although its condition no longer
holds. Real DynamoDB never lets that happen, and Tessera's versioned writes
rely on it. So every DynamoDB write here runs under one lock (coarser than
DynamoDB's per-item atomicity, equivalent for correctness).

Usage: python moto_server.py [moto server arguments]
"""

import functools
import threading

from moto import server
from moto.dynamodb.models import DynamoDBBackend

_WRITES = threading.RLock()


def _atomic(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _WRITES:
            return method(*args, **kwargs)

    return locked


for _name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    server.main()
