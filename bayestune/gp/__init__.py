"""The Bayesian-optimization engine behind :class:`~bayestune.samplers.GPSampler`.

Modules, each one concept: ``kernels`` (a Matérn-5/2 kernel over mixed inputs),
``transforms`` (the output warp), ``model`` (building and fitting the gpytorch models),
``acquisition`` (LogEI family, pending points, failure handling), ``optimize``
(maximizing the acquisition over mixed spaces) and ``surrogate`` (a fitted model with
a numpy interface for plots and diagnostics). Nothing here knows about studies.
"""
