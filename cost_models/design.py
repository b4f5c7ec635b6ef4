"""The NPU design point: a typed, validated ``[npu]`` TOML table.

Field names are fixed by ``docs/architecture.md``; units are in the names (``_mhz``,
``_gbps`` = 1e9 bytes/s, ``_kib`` = 1024 bytes, ``_nm``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from dse.common import (
    InputError,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_range,
    check_table,
    read_toml,
    table,
)

BATCHING = ("none", "r", "p", "fluid")
PE_STYLES = ("adder_tree", "systolic")

_INT_FIELDS = ("pe_count", "pe_width", "tile_rows", "max_batch", "precision_bits")
_FLOAT_FIELDS = ("clock_mhz", "dram_gbps", "act_sram_kib", "weight_sram_kib",
                 "out_sram_kib", "tech_nm")
# Largest value accepted per field: keeps every derived quantity inside int64 and
# catches unit mistakes (e.g. a clock given in Hz).
_MAX = {"pe_count": 1 << 16, "pe_width": 1 << 14, "tile_rows": 1 << 20, "max_batch": 4096,
        "precision_bits": 64, "clock_mhz": 1e5, "dram_gbps": 1e5, "act_sram_kib": 1 << 22,
        "weight_sram_kib": 1 << 22, "out_sram_kib": 1 << 22, "tech_nm": 1000.0}
# Smallest value accepted per float field (integers: >= 1; SRAMs: one tile, see
# ``_validate_buffers``): a 1 MHz clock, 1 MB/s of DRAM, a 2 nm node.  Below these the
# design is not a chip, and a DRAM under 1e-5 bytes per cycle would overflow the int64
# cycle counts of the latency table.
_MIN = {"clock_mhz": 1.0, "dram_gbps": 1e-3, "tech_nm": 2.0}


@dataclass(frozen=True)
class NpuDesign:
    """One fluid-batching NPU design.

    pe_count: T_C, number of PEs; pe_width: T_P, multipliers per PE (dot-product width);
    tile_rows: T_R, rows of the input/output tile buffers; stack_factors: allowed PE
    stacking factors k (each divides pe_count); batching: "none" | "r" | "p" | "fluid";
    pe_style: "adder_tree" | "systolic"; max_batch: largest batch the FBE table covers;
    clock_mhz (MHz); dram_gbps (GB/s, 1e9 bytes/s); act/weight/out_sram_kib (KiB);
    precision_bits (operand width, bits); tech_nm (process node, nm).
    """

    pe_count: int = 64
    pe_width: int = 16
    tile_rows: int = 64
    stack_factors: tuple[int, ...] = (1,)
    batching: str = "fluid"
    pe_style: str = "adder_tree"
    max_batch: int = 32
    clock_mhz: float = 800.0
    dram_gbps: float = 12.8
    act_sram_kib: float = 512.0
    weight_sram_kib: float = 512.0
    out_sram_kib: float = 64.0
    precision_bits: int = 8
    tech_nm: float = 28.0

    @classmethod
    def from_dict(cls, table: dict, source: str = "<npu>", prefix: str = "npu.") -> NpuDesign:
        """Validate a ``[npu]`` table (missing fields take the defaults above)."""
        check_table(table, source=source, field=prefix.rstrip("."))
        names = [f.name for f in fields(cls)]
        check_keys(table, names, source=source, prefix=prefix)
        values = {}
        for name in _INT_FIELDS:
            if name in table:
                values[name] = check_int(table[name], source=source, field=prefix + name)
        for name in _FLOAT_FIELDS:
            if name in table:
                values[name] = check_float(table[name], source=source, field=prefix + name)
        for name, allowed in (("batching", BATCHING), ("pe_style", PE_STYLES)):
            if name in table:
                values[name] = check_choice(table[name], allowed, source=source,
                                            field=prefix + name)
        if "stack_factors" in table:
            v = table["stack_factors"]
            if isinstance(v, int) and not isinstance(v, bool):
                v = [v]
            if (not isinstance(v, list | tuple) or not v
                    or any(isinstance(k, bool) or not isinstance(k, int) for k in v)):
                raise InputError(f"expected a non-empty list of integers, got {v!r}",
                                 source=source, field=prefix + "stack_factors")
            values["stack_factors"] = tuple(sorted(set(v)))
        design = replace(cls(), **values)
        design._validate(source, prefix)
        return design

    @staticmethod
    def field_range(name: str) -> tuple[float, float] | None:
        """``(low, high)`` accepted for a numeric field (``low`` exclusive when 0), or
        None for a non-numeric field."""
        if name not in _MAX:
            return None
        return _MIN.get(name, 0), _MAX[name]

    def _validate(self, source: str, prefix: str) -> None:
        for name in (*_INT_FIELDS, *_FLOAT_FIELDS):
            low = _MIN.get(name, 0)
            check_range(getattr(self, name), source=source, field=prefix + name, low=low,
                        low_open=low == 0, high=_MAX[name],
                        allowed=f"{low}..{_MAX[name]}" if low else None)
        if self.precision_bits % 8:
            raise InputError(f"must be a multiple of 8, got {self.precision_bits}",
                             source=source, field=prefix + "precision_bits",
                             allowed="8, 16, 32")
        for k in self.stack_factors:
            if k < 1 or self.pe_count % k:
                divisors = [d for d in range(1, min(self.pe_count, 64) + 1)
                            if self.pe_count % d == 0]
                raise InputError(f"stack factor {k} does not divide pe_count={self.pe_count}",
                                 source=source, field=prefix + "stack_factors",
                                 allowed=divisors)
        self._validate_buffers(source, prefix)
        check_choice(self.batching, BATCHING, source=source, field=prefix + "batching")
        check_choice(self.pe_style, PE_STYLES, source=source, field=prefix + "pe_style")

    def _validate_buffers(self, source: str, prefix: str) -> None:
        """Each SRAM must hold the smallest tile the array works on: the weight SRAM one
        T_P x T_C weight tile, the activation SRAM one input row of T_P operands, the
        output SRAM one row of T_C accumulators (tile_rows = 1)."""
        from cost_models.tech import value

        bpe = self.precision_bits // 8
        need = {"weight_sram_kib": self.pe_count * self.pe_width * bpe,
                "act_sram_kib": self.pe_width * bpe,
                "out_sram_kib": self.pe_count * int(value("acc_bits")) // 8}
        what = {"weight_sram_kib": "one pe_width x pe_count weight tile",
                "act_sram_kib": "one row of pe_width input operands",
                "out_sram_kib": "one row of pe_count accumulators"}
        for name, nbytes in need.items():
            if getattr(self, name) * 1024 < nbytes:
                raise InputError(f"{getattr(self, name):g} KiB cannot hold {what[name]} "
                                 f"({nbytes} bytes)", source=source, field=prefix + name,
                                 allowed=f">= {nbytes / 1024:g}")

    def __post_init__(self):
        object.__setattr__(self, "stack_factors", tuple(int(k) for k in self.stack_factors))

    def validated(self, source: str = "<npu>") -> NpuDesign:
        """Return self after checking every field (for designs built in code)."""
        self._validate(source, "npu.")
        return self

    def to_dict(self) -> dict:
        """TOML-ready dict of all fields (``from_dict(to_dict())`` round-trips)."""
        d = asdict(self)
        d["stack_factors"] = list(self.stack_factors)
        return d

    def sliced(self, n: int) -> NpuDesign:
        """Design of one of ``n`` equal slices of the PE array (a BCEdge instance).

        The slice gets ``pe_count // n`` PEs, 1/n of every SRAM and of the DRAM bandwidth;
        stack factors that no longer divide the slice are dropped (k=1 always stays).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1 or self.pe_count % n:
            raise InputError(f"cannot split {self.pe_count} PEs into {n} equal slices",
                             field="instances")
        pes = self.pe_count // n
        ks = tuple(k for k in self.stack_factors if pes % k == 0) or (1,)
        return replace(self, pe_count=pes, stack_factors=ks,
                       dram_gbps=self.dram_gbps / n, act_sram_kib=self.act_sram_kib / n,
                       weight_sram_kib=self.weight_sram_kib / n,
                       out_sram_kib=self.out_sram_kib / n)


def load_npu(path: str | Path) -> NpuDesign:
    """Read and validate the ``[npu]`` table of a TOML file."""
    source = str(path)
    return NpuDesign.from_dict(table(read_toml(path), "npu", source=source), source=source)
