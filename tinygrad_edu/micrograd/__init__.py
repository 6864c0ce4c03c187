"""micrograd's API on tinygrad_edu's engine: change the imports, keep the program.

`tinygrad_edu.micrograd.engine.Value` and `tinygrad_edu.micrograd.nn` (`Module`, `Neuron`,
`Layer`, `MLP`) behave as micrograd's: scalar parameters drawn with Python's `random` (so
`random.seed` makes runs repeat), `Neuron(nin, nonlin=True)`, `parameters()` a flat list of
scalar Values, and `data`, `grad`, `_prev`, `_op` for drawing code. The arithmetic runs on
tinygrad_edu's engine, so every gradient is the one the rest of the package computes.

>>> import random
>>> from tinygrad_edu.micrograd.nn import MLP
>>> random.seed(1337)
>>> model = MLP(2, [16, 16, 1])
>>> len(model.parameters()), str(model.layers[-1])
(337, 'Layer of [LinearNeuron(16)]')
"""
