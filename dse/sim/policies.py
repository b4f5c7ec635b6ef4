"""The registered scheduling policies and their parameters (rules: docs/simulator.md).

``max_batch`` of every policy is capped at the design's ``max_batch`` (the latency
tables have no larger column).
"""

from __future__ import annotations

from dse.sim import _policies as K
from dse.sim.registry import Param, Policy, register

_MB = Param("max_batch", "int", 8, 1, 64, False,
            "largest batch (samples); capped at the design's max_batch")

FCFS = register(Policy(
    "fcfs", K.PID_FCFS,
    "first come first served, batch 1, run to the request's exit"))

STATIC = register(Policy(
    "static", K.PID_STATIC,
    "Triton/TF-Serving dynamic batching: dispatch at max_batch or when the oldest "
    "request has waited max_queue_delay_ms",
    {"max_batch": _MB,
     "max_queue_delay_ms": Param("max_queue_delay_ms", "float", 2.0, 0.0, 200.0, False,
                                 "longest wait of the oldest request before dispatch (ms)")}))

ADAPTIVE = register(Policy(
    "adaptive", K.PID_ADAPTIVE,
    "Clipper-style AIMD batch size per model: grow while batches finish within "
    "slo_fraction of the SLO, back off multiplicatively otherwise",
    {"max_batch": _MB,
     "additive_step": Param("additive_step", "int", 1, 1, 8, False,
                            "batch-size increase after an on-time batch (samples)"),
     "backoff": Param("backoff", "float", 0.9, 0.1, 0.99, False,
                      "multiplicative decrease after a late batch"),
     "slo_fraction": Param("slo_fraction", "float", 0.5, 0.05, 1.0, False,
                           "batch latency target as a fraction of the model's SLO")}))

LAZY = register(Policy(
    "lazy", K.PID_LAZY,
    "LazyBatching: queued samples join the in-flight batch at any layer boundary by "
    "catch-up when the predicted finish keeps every member within its SLO minus slack",
    {"max_batch": _MB,
     "slack_ms": Param("slack_ms", "float", 0.0, 0.0, 100.0, False,
                       "safety margin kept before every member's deadline (ms)")},
    reconstruction=True))

PREMA = register(Policy(
    "prema", K.PID_PREMA,
    "PREMA: token-based preemptive multi-DNN scheduling at layer boundaries; among "
    "batches whose normalized wait reaches the threshold, the shortest remaining runs",
    {"max_batch": _MB,
     "token_threshold": Param("token_threshold", "float", 1.0, 0.0, 20.0, False,
                              "normalized wait (ms / isolated ms) that makes a batch eligible")},
    reconstruction=True))

BCEDGE = register(Policy(
    "bcedge", K.PID_BCEDGE,
    "BCEdge: n concurrent instances (PE-array slices); each dispatch picks the batch "
    "size maximizing throughput x (slack/latency)^latency_weight",
    {"instances": Param("instances", "int", 2, 1, 8, False,
                        "concurrent model instances, each a 1/n slice of the PE array"),
     "max_batch": _MB,
     "latency_weight": Param("latency_weight", "float", 2.0, 0.0, 10.0, False,
                             "exponent of the latency penalty in the utility")},
    instances_param="instances", reconstruction=True))

FLUID = register(Policy(
    "fluid", K.PID_FLUID,
    "Fluid Batching: exit-aware preemptive refill; when early exits free slots, queued "
    "samples catch up to the paused batch's layer and merge",
    {"max_batch": _MB,
     "refill_level": Param("refill_level", "float", 1.0, 0.0, 1.0, False,
                           "refill only when active samples <= refill_level x max_batch"),
     "catchup_last": Param("catchup_last", "float", 0.5, 0.0, 1.0, False,
                           "latest layer for catch-up, as a fraction of the model depth"),
     "min_queue": Param("min_queue", "int", 1, 1, 64, False,
                        "queued samples needed before a refill"),
     "slack_ms": Param("slack_ms", "float", 0.0, 0.0, 100.0, False,
                       "margin kept before the deadlines of members still on time (ms)")},
    reconstruction=True))
