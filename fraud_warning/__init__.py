"""fraud_warning: a telecom-fraud early-warning engine.

Importing the package does nothing: no settings are read, no sockets opened.
The command line lives in :mod:`fraud_warning.cli`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
