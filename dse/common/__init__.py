"""The bottom layer every package shares: errors, TOML reading, field checks, bounds and
the memory budget (``limits``), input and output paths (``files``).

Nothing here imports another package of this project, so ``cost_models`` (the next layer
up) can use it without pulling in anything else.
"""

from dse.common.checks import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_numbers,
    check_range,
    check_str,
    check_table,
    is_int,
    is_number,
)
from dse.common.errors import InputError, RunError, did_you_mean
from dse.common.jit import compiled_or_cached
from dse.common.limits import check_memory, check_requests, check_seed
from dse.common.toml import parse_toml, read_text, read_toml, table

__all__ = [
    "InputError", "RunError", "check_bool", "check_choice", "check_float", "check_int",
    "check_keys", "check_memory", "check_numbers", "check_range", "check_requests",
    "check_seed", "check_str", "check_table", "compiled_or_cached",
    "did_you_mean", "is_int", "is_number", "parse_toml", "read_text", "read_toml", "table",
]
