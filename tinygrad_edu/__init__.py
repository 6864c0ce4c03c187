"""tinygrad_edu: an autograd engine written from scratch, for learning how deep learning works.

>>> from tinygrad_edu import Value
>>> x = Value(2.0, label="x")
>>> y = x * x + 3 * x
>>> y.backward()
>>> y.data, x.grad
(10.0, 7.0)
"""

from tinygrad_edu import pickling  # noqa: F401  (Values pickle as flat tables from here on)
from tinygrad_edu.activations import (
    ACTIVATIONS,
    elu,
    gelu,
    get_activation,
    identity,
    leaky_relu,
    relu,
    selu,
    sigmoid,
    silu,
    softplus,
    step,
    tanh,
)
from tinygrad_edu.anomaly import detect_anomaly
from tinygrad_edu.arrays import broadcast_to, concatenate, maximum, minimum, stack, where
from tinygrad_edu.engine import Value, gradients
from tinygrad_edu.functional import grad
from tinygrad_edu.grad_mode import enable_grad, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Value",
    "broadcast_to",
    "concatenate",
    "detect_anomaly",
    "elu",
    "enable_grad",
    "gelu",
    "get_activation",
    "grad",
    "gradients",
    "identity",
    "is_grad_enabled",
    "leaky_relu",
    "maximum",
    "minimum",
    "no_grad",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softplus",
    "stack",
    "step",
    "tanh",
    "where",
]
