"""`moto_server`, with DynamoDB transactions that cost what they cost in DynamoDB.

    python3 tests/lambda-e2e/moto_server.py -H 127.0.0.1 -p PORT   (the arguments of moto_server)

moto applies `TransactWriteItems` by first deep-copying every table the transaction names, to
restore it if the transaction is cancelled. The copy takes time in proportion to the table: on
the project's machine a 10-item transaction took 126 ms on a table of 10 items, 1.0 s on 1,000
and 1.9 s on 3,000. DynamoDB's transactions do not slow down as a table grows, and the
fault-injection run's table grows to thousands of idempotency keys, so with moto's copy every
batch's claim would take seconds and the run would measure moto, not the function.

The first change: the copy a transaction restores from shares the table's untouched items and
copies only the items the transaction names (the only ones it can change). What a transaction
does and answers (conditions, cancellation reasons, the items returned) is moto's own code.

The second: DynamoDB's writes are atomic, moto's are not. moto checks a write's condition and
then writes, on whichever of its request threads runs, so two concurrent conditional puts of one
key can both pass (seen: two of sixteen claims of one key "won"). Every DynamoDB write here takes
one lock, which makes each atomic as DynamoDB's are (and serialises them, which moto's speed
allows).
"""

from __future__ import annotations

import copy
import sys
import threading
from collections import defaultdict

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.server import main

# Per thread (moto serves requests on threads): the keys the running transaction names, by
# table name, as (hash, range) DynamoTypes.
_touched = threading.local()


def _snapshot(table: Table) -> Table:
    """A table to restore: the same object graph, a new item map, the named items copied."""
    keys = getattr(_touched, "keys", {}).get(table.name, [])
    snapshot = copy.copy(table)
    items: defaultdict = defaultdict(dict)
    for hash_value, entry in table.items.items():
        items[hash_value] = dict(entry) if table.has_range_key else entry
    for hash_value, range_value in keys:
        if hash_value not in table.items:
            continue
        if table.has_range_key and range_value is not None:
            if range_value in table.items[hash_value]:
                items[hash_value][range_value] = copy.deepcopy(table.items[hash_value][range_value])
        else:
            items[hash_value] = copy.deepcopy(table.items[hash_value])
    snapshot.items = items
    return snapshot


class _Copy:
    """The `copy` module as moto's DynamoDB backend sees it: tables are snapshotted while a
    transaction runs on this thread, everything else is copied as before."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table) and getattr(_touched, "keys", None) is not None:
            return _snapshot(value)
        return copy.deepcopy(value, memo)


_moto_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    keys: dict[str, list] = {}
    try:
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            attributes = op.get("Item") or op.get("Key") or {}
            hash_value = DynamoType(attributes[table.hash_key_attr])
            range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
            keys.setdefault(table.name, []).append((hash_value, range_value))
    except Exception:  # noqa: BLE001 - a malformed request: moto's own code reports it
        keys = None
    _touched.keys = keys
    try:
        return _moto_transact_write_items(self, transact_items)
    finally:
        _touched.keys = None


dynamodb_models.copy = _Copy
DynamoDBBackend.transact_write_items = _transact_write_items

_writes = threading.RLock()


def _atomic(write):
    def atomically(*args, **kwargs):
        with _writes:
            return write(*args, **kwargs)

    return atomically


for _name in ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items"):
    if hasattr(DynamoDBBackend, _name):
        setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
