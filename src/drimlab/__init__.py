"""drimlab: an offline DRIM-M interoperability test bench.

What users may import is listed in `__all__`; everything else is internal.
"""

from drimlab.config import Settings
from drimlab.exchange import Exchange
from drimlab.validation.engine import ResponseValidator, validate_exchange, validate_request
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.loaders import load_har, load_request, load_response
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import Rule, RuleDoc

__version__ = "0.1.0"

__all__ = [
    "Exchange",
    "Finding",
    "Location",
    "Report",
    "ResponseValidator",
    "Rule",
    "RuleDoc",
    "Settings",
    "Severity",
    "Verdict",
    "__version__",
    "load_har",
    "load_request",
    "load_response",
    "validate_exchange",
    "validate_request",
]
