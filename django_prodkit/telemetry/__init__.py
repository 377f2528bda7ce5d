"""Request telemetry to Application Insights (or the console): ``TelemetryMiddleware``, its
backends and exporter, and the browser snippet's template tag (``prodkit_telemetry``).

Importing this package imports no telemetry SDK; a backend imports its SDK when it is made.
"""

from __future__ import annotations
