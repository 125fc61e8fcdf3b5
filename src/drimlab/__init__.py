"""drimlab: an offline DRIM-M interoperability test bench.

What users may import is listed in `__all__`; everything else is internal.
"""

from drimlab.config import Settings
from drimlab.exchange import Exchange
from drimlab.validation.assess import Selection
from drimlab.validation.engine import (
    ResponseValidator,
    validate_exchange,
    validate_request,
    validate_response,
)
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.loaders import load_har, load_request, load_response
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import Rule, RuleDoc
from drimlab.version import __version__

__all__ = [
    "Exchange",
    "Finding",
    "Location",
    "Report",
    "ResponseValidator",
    "Rule",
    "RuleDoc",
    "Selection",
    "Settings",
    "Severity",
    "Verdict",
    "__version__",
    "load_har",
    "load_request",
    "load_response",
    "validate_exchange",
    "validate_request",
    "validate_response",
]
