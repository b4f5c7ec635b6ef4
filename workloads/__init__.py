"""Early-exit model zoo, exit profiles, arrival processes and scenarios."""

from workloads.arrivals import ARRIVALS, ArrivalParam, ArrivalProcess
from workloads.exits import no_exit_profile, shift_profile
from workloads.model import EarlyExitModel
from workloads.registry import get_model, list_models
from workloads.scenario import Scenario, Stream, load_scenario
from workloads.summary import trace_summary
from workloads.trace import Trace

__all__ = [
    "ARRIVALS", "ArrivalParam", "ArrivalProcess", "EarlyExitModel", "Scenario", "Stream",
    "Trace", "get_model", "list_models", "load_scenario", "no_exit_profile", "shift_profile",
    "trace_summary",
]
