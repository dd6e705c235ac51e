"""The state's JSON values as models, validated once per value, not once per node.

The state holds JSON (see state.py), and LangGraph hands a value on as the very object a
node returned: the cycle's market view reaches three agents, the vote, the executor and
the record node as one dict, and a book reaches its critique, its agent, the vote, the
executor and the record node. `shared` validates such a value once and gives every later
reader the same model, found by the identity of the JSON it came from (the JSON is held
with it, so its id is never reused while it is remembered). A value read from a
checkpoint (a resumed cycle) is a new object: validated again, never a stale model.

This rests on three rules the nodes keep: a state value is never changed in place (a node
returns new values, as LangGraph wants), a value of the state is a full dump of its model
(`dump` gives it back as is), and a model from `shared` is read-only. A node
that changes a model (the screener books fills, the record node marks the books) takes
its own with `fresh`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

KEPT = 512  # a cycle reads a few dozen values; the rest are older cycles'

_memo: OrderedDict[tuple[type[BaseModel], int], tuple[object, BaseModel]] = OrderedDict()
_json: dict[int, tuple[BaseModel, object]] = {}  # id(model) -> (model, the JSON it came from)
_lock = threading.Lock()  # the personas' turns may run on threads


def shared(model: type[M], data: Any) -> M:
    """`model.model_validate(data)`, made once per JSON object: read-only."""
    key = (model, id(data))
    hit = _memo.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]  # type: ignore[return-value]
    made = model.model_validate(data)
    with _lock:
        _memo[key] = (data, made)
        _json[id(made)] = (made, data)
        while len(_memo) > KEPT:
            _, (_, old) = _memo.popitem(last=False)  # the oldest
            _json.pop(id(old), None)
    return made


def shared_list(model: type[M], items: Iterable[Any] | None) -> list[M]:
    """Each item through `shared`: a list of its own, of read-only models."""
    return [shared(model, item) for item in items or ()]


def dump(model: BaseModel) -> Any:
    """`model.model_dump(mode="json")`; for a model `shared` made, the JSON it came from
    (an order settlement left as it was goes on as the same value: no dump, and its next
    readers find its model). The state's JSON is always a full dump of its model, so the
    two are equal."""
    hit = _json.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    return model.model_dump(mode="json")


def fresh(model: type[M], data: Any) -> M:
    """A model of `data` of the caller's own, free to change."""
    return model.model_validate(data)
