"""The Bayesian-optimization engine behind :class:`~bayestune.samplers.GPSampler`.

Modules, each one concept: ``kernels`` (the one definition of the Matérn-5/2 kernel over
mixed inputs), ``posterior`` (the exact GP posterior and its predictive equations),
``transforms`` (the output warp), ``model`` (building and fitting the gpytorch models),
``surrogate`` (stages 2-3: warping the targets, fitting the models, and the fitted
surrogate with a numpy interface for plots and diagnostics), ``acquisition`` (the
acquisition protocol and its factory), ``analytic`` and ``autograd`` (its two
implementations), ``optimize`` (maximizing an acquisition over mixed spaces) and
``options`` (the sampler's option types). Nothing here knows about studies.
"""
