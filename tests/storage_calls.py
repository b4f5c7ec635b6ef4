"""Count the calls a study makes to its Optuna storage (tests and benchmarks).

:func:`count_calls` replaces every public method of the study's storage object (Optuna's
``BaseStorage`` API, as the study, the samplers and ``dse.search`` call it) on that one
instance by a counting wrapper; ``Counter.by_method`` holds the counts.
"""

from __future__ import annotations

import collections
import functools


class Counter:
    def __init__(self):
        self.by_method: collections.Counter = collections.Counter()

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


def count_calls(storage) -> Counter:
    counter = Counter()
    target = storage
    for name in dir(type(target)):
        if name.startswith("_") or not callable(getattr(type(target), name, None)):
            continue
        method = getattr(target, name)

        @functools.wraps(method)
        def wrapper(*args, _method=method, _name=name, **kwargs):
            counter.by_method[_name] += 1
            return _method(*args, **kwargs)
        setattr(target, name, wrapper)
    return counter
