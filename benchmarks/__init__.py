"""Speed measurements of the models, the metric and the input pipeline (see `README.md`).

Each script is a module run from the repository root, `python -m benchmarks.inference` and so
on; they share the machine, timing and FLOP helpers of `benchmarks.machine` and build their
models through `keras_fcn.registry` (`benchmarks.models`).
"""
