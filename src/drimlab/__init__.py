"""drimlab: an offline DRIM-M interoperability test bench.

What users may import is listed in `__all__`; everything else is internal.
"""

from drimlab.config import Settings
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import Rule, RuleDoc

__version__ = "0.1.0"

__all__ = [
    "Finding",
    "Location",
    "Report",
    "Rule",
    "RuleDoc",
    "Settings",
    "Severity",
    "Verdict",
    "__version__",
]
