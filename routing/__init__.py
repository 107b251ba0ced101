"""Order routing: which locations ship which lines, by CP-SAT optimiser or greedy baselines.

A pure package: no Temporal, no database, only pydantic models in and out.
"""

from routing.dates import cutoff_on
from routing.model import (
    CandidateLocation,
    Carrier,
    Destination,
    DistanceBand,
    OrderLine,
    PlannedLine,
    PlannedShipment,
    RoutingPlan,
    RoutingProblem,
    RuleProfile,
    ShippingCalendar,
    Speed,
    Weekday,
    WeightBand,
)
from routing.objective import exact_score, score
from routing.profiles import ProfileError, default_profile, load_profiles, profile_for
from routing.strategies import STRATEGIES, solve
from routing.tariff_file import TariffFileError, load_carriers, parse_carriers
from routing.validate import violations

__all__ = [
    "STRATEGIES",
    "CandidateLocation",
    "Carrier",
    "Destination",
    "DistanceBand",
    "OrderLine",
    "PlannedLine",
    "PlannedShipment",
    "ProfileError",
    "RoutingPlan",
    "RoutingProblem",
    "RuleProfile",
    "ShippingCalendar",
    "Speed",
    "TariffFileError",
    "WeightBand",
    "Weekday",
    "cutoff_on",
    "default_profile",
    "exact_score",
    "load_carriers",
    "load_profiles",
    "parse_carriers",
    "profile_for",
    "score",
    "solve",
    "violations",
]
