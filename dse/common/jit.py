"""Whether a Numba kernel will compile: read its on-disk cache index (``cache=True``).

The first run of a kernel compiles it (tens of seconds); later processes load it from
Numba's cache.  :func:`compiled_or_cached` tells which will happen before the call, so
the app layer can say "compiling kernels" instead of looking hung.  It reads Numba's
cache index the way Numba's own loader does (same index file, source stamp and bytecode
hash); any surprise reads as "will compile".
"""

from __future__ import annotations


def compiled_or_cached(dispatcher, match=None) -> bool:
    """True when ``dispatcher`` (an ``@njit(cache=True)`` function) holds, in this process
    or in its cache, a compiled version whose signature satisfies ``match(sig)`` (any
    signature when ``match`` is None)."""
    sigs = [tuple(s) for s in getattr(dispatcher, "signatures", ())]
    if any(match is None or match(s) for s in sigs):
        return True
    cache = getattr(dispatcher, "_cache", None)
    try:
        index = cache._cache_file._load_index()
        codegen = dispatcher.targetctx.codegen()
        for key in index:
            sig, magic, hashes = key
            fresh = cache._index_key(sig, codegen)
            if magic == fresh[1] and hashes == fresh[2] and (match is None or match(sig)):
                return True
    except Exception:  # noqa: BLE001 - no cache, another Numba layout: it will compile
        return False
    return False
