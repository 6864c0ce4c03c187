"""The `tinygrad-edu` command (also `python -m tinygrad_edu`).

Subcommands (``tinygrad-edu COMMAND --help`` for the options of each):

* ``demo``: the lecture tour, every example of `tinygrad_edu.lecture` into one folder
  (``--out DIR``, ``--quick``), then a table of what was written and the accuracies reached.
* ``perceptron``: Rosenblatt's rule on the logic gates, printed epoch by epoch.
* ``boundaries``: the lecture's grid of decision boundaries (m hidden layers x n units).
* ``activations``: every activation and its derivative, plotted and checked numerically.
* ``digits``: an MLP on real handwritten digits (scikit-learn's, the `data` extra): accuracy
  on test digits it never trained on, learning curves, confusion matrix, its mistakes.
* ``graph``: draw the computation graph of an expression, with its gradients::

    tinygrad-edu graph "tanh(x1*w1 + x2*w2 + b)" --set x1=2 x2=0 w1=-3 w2=1 \\
        b=6.8813735870195432 -o neuron.svg --html backprop.html

The expression is parsed with `ast` and checked against a whitelist (numbers, names,
``+ - * / **``, unary minus, calls of the activations and of ``exp log sqrt abs sin cos log1p
expm1``); it is never given to `eval` (see `tinygrad_edu.expression`). Its numbers, and those of
``--set``, are read as Python reads them (but a ``--set`` value past float64, 1e400, is
refused rather than read as inf). Bad usage prints one line on stderr and exits
with status 2; a failure (Graphviz missing, a file that cannot be written) exits with status 1;
Ctrl-C exits with status 130. Without matplotlib, the commands still print their text and say
which pictures they skipped. ``tinygrad-edu --version`` prints the version.
Progress bars (tqdm) appear on stderr for training that takes more than a second, unless
``--quiet`` is given or stderr is not a terminal. An option that takes several values
(``--set``, ``--gate``, ``--layers``, ...) may be given again: its values add up.

Adding a subcommand: write ``_configure_x(parser)`` and ``_run_x(args) -> int``, and add a
`Command` to `COMMANDS`.

>>> main(["graph", "x*x + 1", "--set", "x=3"]) == 0  # doctest: +ELLIPSIS
digraph tinygrad_edu {
...
True
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

import tinygrad_edu
from tinygrad_edu import Value, lecture
from tinygrad_edu._common import file_to_write
from tinygrad_edu.activations import ACTIVATIONS, activation_names
from tinygrad_edu.expression import (
    EXTRA_NUMBER_ARGUMENT,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_NAMES,
    UsageError,
    build_expression,
    names_in,
    parse_assignments,
    parse_expression,
)

# the names of tinygrad_edu.expression are importable from here too, as they were
__all__ = [
    "COMMANDS",
    "EXTRA_NUMBER_ARGUMENT",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_NAMES",
    "PROG",
    "Command",
    "UsageError",
    "build_expression",
    "main",
    "make_parser",
    "names_in",
    "parse_assignments",
    "parse_expression",
]

PROG = "tinygrad-edu"


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


def _count(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r:.40}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}; got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    lecture.add_output_options(parser)
    parser.add_argument("--only", nargs="+", action="extend", choices=list(lecture.EXAMPLES),
                        metavar="EXAMPLE",
                        help=f"run only these examples ({', '.join(lecture.EXAMPLES)})")


def _run_demo(args: argparse.Namespace) -> int:
    def show(result: lecture.ExampleResult) -> None:
        lecture.print_result(result)
        print(flush=True)

    results = lecture.run_tour(args.out, quick=args.quick, progress=lecture.progress_wanted(args),
                               only=args.only, on_result=show)
    print(f"The lecture tour: {len(results)} examples, pictures in {args.out}")
    print(lecture.summary_table(results))
    _say_skipped(results)
    return 0


def _say_skipped(results: Sequence[lecture.ExampleResult]) -> None:
    """Say once which pictures were skipped for want of matplotlib, and how to get them."""
    line = lecture.skipped_pictures(results)
    if line:
        print(line)


def _configure_perceptron(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gate", nargs="+", action="extend", choices=list(lecture.GATE_NAMES),
                        help="the gates (default: all four)")
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1)")
    parser.add_argument("--max-epochs", type=_count(1, 100_000), default=100,
                        help="stop after this many epochs (default 100)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random initial weights (default 0)")
    parser.add_argument("--zeros", action="store_true",
                        help="start from zero weights instead (Novikoff's setting)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="also draw the gates and the sigmoid neuron into this folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _run_perceptron(args: argparse.Namespace) -> int:
    from tinygrad_edu.datasets import logic_gate
    from tinygrad_edu.perceptron import Perceptron

    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a positive number; got {args.lr}")
    print("Rosenblatt's rule: on a mistake, w += lr·x if the answer was 0 but should be 1, "
          "w -= lr·x if it was 1 but should be 0 (x = (1, x1, x2)).")
    for gate in args.gate or lecture.GATE_NAMES:
        X, y = logic_gate(gate)
        p = Perceptron(2, seed=args.seed, zeros=args.zeros)
        start = p.weights.copy()
        history = p.fit(X, y, lr=args.lr, max_epochs=args.max_epochs)
        print(f"\n{gate.upper()}  (targets {y.tolist()}, initial weights "
              f"{np.array2string(start, precision=3)})")
        print(f"  {'epoch':>5}  {'errors':>6}  weights (w0 = bias, w1, w2)")
        for epoch, (errors, weights) in enumerate(zip(history.errors, history.weights,
                                                      strict=True), 1):
            print(f"  {epoch:>5}  {errors:>6}  {np.array2string(weights, precision=3)}")
        correct = int(np.sum(p.predict(X) == y))
        print("  " + lecture.describe_gate_run(gate, history, correct))
        if gate == "xor":
            print("  " + lecture.describe_xor_limit())
    if args.out is not None:
        result = lecture.perceptron_logic_gates(
            args.out, progress=lecture.progress_wanted(args), seed=args.seed,
            gates=args.gate or lecture.GATE_NAMES, lr=args.lr, max_epochs=args.max_epochs,
            zeros=args.zeros)  # (the pictures of the runs printed above)
        print()
        for path in result.files:
            print(f"wrote {path}")
        _say_skipped([result])
    return 0


def _configure_boundaries(parser: argparse.ArgumentParser) -> None:
    lecture.add_output_options(parser)
    parser.add_argument("--layers", nargs="+", action="extend", type=_count(0, 8), metavar="M",
                        help="numbers of hidden layers, one row each (default 0 1 2 3)")
    parser.add_argument("--units", nargs="+", action="extend", type=_count(1, 256), metavar="N",
                        help="units per hidden layer, one column each (default 2 4 8 16)")
    parser.add_argument("--steps", type=_count(1, 100_000), default=None,
                        help="Adam steps per network (default 2000, 400 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and weights")


def _run_boundaries(args: argparse.Namespace) -> int:
    result = lecture.decision_boundaries(
        args.out, quick=args.quick, progress=lecture.progress_wanted(args), seed=args.seed,
        layers=args.layers or lecture.GRID_LAYERS, units=args.units or lecture.GRID_UNITS,
        steps=args.steps)
    lecture.print_result(result)
    _say_skipped([result])
    return 0


def _configure_activations(parser: argparse.ArgumentParser) -> None:
    lecture.add_output_options(parser, quick=False)
    names = activation_names()
    parser.add_argument("--names", nargs="+", action="extend", choices=list(ACTIVATIONS),
                        metavar="NAME", help=f"the activations (default: {' '.join(names)})")


def _run_activations(args: argparse.Namespace) -> int:
    result = lecture.activation_functions(args.out, names=args.names)
    lecture.print_result(result)
    _say_skipped([result])
    return 0


def _rate(text: str) -> float:
    """An argparse type: a positive, finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r:.40}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text}")
    return value


def _configure_digits(parser: argparse.ArgumentParser) -> None:
    lecture.add_output_options(parser)
    parser.add_argument("--hidden", nargs="+", action="extend", type=_count(1, 4096),
                        metavar="N",
                        help="sizes of the hidden layers (default: "
                             f"{' '.join(map(str, lecture.DIGITS_HIDDEN))}; 64 with --quick)")
    parser.add_argument("--epochs", type=_count(1, 10_000), default=None,
                        help="passes over the training digits (default 30, 10 with --quick)")
    parser.add_argument("--lr", type=_rate, default=1e-3, help="Adam's learning rate "
                        "(default 0.001)")
    parser.add_argument("--batch-size", type=_count(1, 100_000), default=32,
                        help="digits per mini-batch (default 32)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the train/test split, the weights and the batches")


def _run_digits(args: argparse.Namespace) -> int:
    result = lecture.digits_mlp(
        args.out, quick=args.quick, progress=lecture.progress_wanted(args), seed=args.seed,
        hidden=args.hidden, epochs=args.epochs, lr=args.lr,
        batch_size=args.batch_size)
    lecture.print_result(result)
    _say_skipped([result])
    return 0


def _configure_graph(parser: argparse.ArgumentParser) -> None:
    if isinstance(parser, _Parser):  # (argparse read "-x*y" as an option: say how)
        parser.missing_hint = ('(an expression that starts with a minus goes last, after "--": '
                               'graph --set x=2 y=3 -- "-x*y")')
    parser.add_argument("expression", help='an expression, e.g. "tanh(x1*w1 + x2*w2 + b)"; '
                        'one that starts with a minus goes last, after "--" (every option '
                        'before it): graph --set x=2 y=3 -- "-x*y"')
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="NAME=NUMBER",
                        dest="assign", help="the value of every name in the expression, a "
                        "number as Python writes one (2, -0.5, 1e-3, 0x10, inf, nan)")
    parser.add_argument("-o", "--output", default=None,
                        help="picture to write: .svg, .png, .pdf or .dot "
                             "(default: print the DOT text)")
    parser.add_argument("--html", default=None,
                        help="also write backpropagation step by step to this HTML file")
    parser.add_argument("--inputs", nargs="+", action="extend", default=[], metavar="NAME",
                        help="names to draw as inputs (the others are drawn as parameters)")
    parser.add_argument("--rankdir", choices=["LR", "TB", "RL", "BT"], default="LR",
                        help="direction of the graph (default LR: left to right)")
    parser.add_argument("--no-legend", action="store_true", help="leave the legend out")


def _run_graph(args: argparse.Namespace) -> int:
    from tinygrad_edu import viz

    tree = parse_expression(args.expression)
    values = parse_assignments(args.assign)
    used = names_in(tree)
    unset = [name for name in used if name not in values]
    if unset:
        hint = " ".join(f"{name}=..." for name in unset)
        raise UsageError(f"unset name{'s' if len(unset) > 1 else ''}: {', '.join(unset)} "
                         f"(give {'them' if len(unset) > 1 else 'it'} with --set {hint})")
    unused = [name for name in values if name not in used]
    if unused and used:  # with no names at all, "uses no variable" below says more
        raise UsageError(f"--set {', '.join(unused)}: not in the expression (its names: "
                         f"{', '.join(used) or 'none'})")
    unknown_inputs = [name for name in args.inputs if name not in used]
    if unknown_inputs:
        raise UsageError(f"--inputs: {', '.join(unknown_inputs)} not in the expression")
    fmt = None
    if args.output is not None:
        fmt = args.output.suffix.lstrip(".").lower()
        if fmt not in viz.FORMATS:
            raise UsageError(f"-o {args.output}: the suffix must be one of "
                             f"{', '.join('.' + f for f in viz.FORMATS)}")
    if args.html is not None and args.html.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--html {args.html}: the file name must end in .html")
    variables = {name: Value(values[name], label=name) for name in used}
    root = build_expression(tree, variables)
    if not isinstance(root, Value) or not root.requires_grad:
        raise UsageError("the expression uses no variable: there is nothing to differentiate")
    if not root.label:  # "out", unless a variable has that name (then "out_", ...)
        root.label = "out"
        while root.label in used:
            root.label += "_"
    root.backward()
    if args.html is not None:  # (refused before any file is written)
        steps = viz.count_steps(root)
        if steps > viz.MAX_STEPS:
            raise UsageError(f"--html: the graph has {steps} steps; the step-by-step page "
                             f"shows at most {viz.MAX_STEPS} (drop --html, or use a smaller "
                             "expression)")
    picture = viz.draw_graph(root, rankdir=args.rankdir, inputs=args.inputs,
                             legend=not args.no_legend)
    if args.output is None and args.html is None:
        print(picture.source)
        return 0
    if args.output is not None:
        viz.save_graph(picture, args.output)
    if args.html is not None:
        viz.write_backprop_html(root, args.html, rankdir=args.rankdir, inputs=args.inputs)
    print(f"{args.expression} = {_show(root.data)}")
    for name in used:
        print(f"  d {root.label} / d {name} = {_show(variables[name].grad)}")
    for path in (args.output, args.html):
        if path is not None:
            print(f"wrote {path}")
    return 0


def _kind(path: Path) -> str:
    return lecture.path_kind(path)


def _folder(text: str, option: str) -> Path:
    """The folder an option names (created later if missing), or a `UsageError`."""
    try:
        return lecture.output_folder(text, option)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _file(text: str, option: str) -> Path:
    """The file an option names (to be written), or a `UsageError`."""
    if not text.strip():
        raise UsageError(f"{option} needs a file name; got an empty string")
    path = Path(text)
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {text}: that is {_kind(path)}, not a file to write; "
                         "give a file name such as out.svg")
    try:  # (a name ending in /, a folder that does not exist: before anything is written)
        return file_to_write(text, option, "backprop.html" if option == "--html" else "out.svg")
    except (ValueError, OSError) as error:
        raise UsageError(str(error)) from None


def _check_arguments(args: argparse.Namespace) -> None:
    """Checks shared by the subcommands, made before any of them prints anything."""
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise UsageError(f"--seed must be a non-negative integer; got {seed}")
    if getattr(args, "out", None) is not None:
        args.out = _folder(str(args.out), "--out")
    for listed in ("gate", "names"):  # (a gate or an activation named twice: run once)
        if getattr(args, listed, None):
            setattr(args, listed, list(dict.fromkeys(getattr(args, listed))))
    for attribute, option in (("output", "-o/--output"), ("html", "--html")):
        if getattr(args, attribute, None) is not None:
            setattr(args, attribute, _file(str(getattr(args, attribute)), option))


def _show(x: Any) -> str:
    return repr(x) if math.isnan(x) or math.isinf(x) else f"{x:.6g}"


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, its options and what it does."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = [
    Command("demo", "the lecture tour: run every example into one folder, then summarise",
            _configure_demo, _run_demo),
    Command("graph", "draw an expression's computation graph with its gradients",
            _configure_graph, _run_graph),
    Command("perceptron", "Rosenblatt's perceptron on AND, OR, NAND, XOR, epoch by epoch",
            _configure_perceptron, _run_perceptron),
    Command("boundaries", "the decision-boundary grid: m hidden layers x n units on a spiral",
            _configure_boundaries, _run_boundaries),
    Command("activations", "plot every activation and its derivative; check them numerically",
            _configure_activations, _run_activations),
    Command("digits", "an MLP on real handwritten digits: accuracy on digits it never saw",
            _configure_digits, _run_digits),
]


class _Parser(argparse.ArgumentParser):
    """The command line's parsers, whose errors may end with a hint: a subcommand's
    "arguments are required" (its `missing_hint`), and "unrecognized arguments" for values
    given as ``x=2`` without ``--set`` before them."""

    missing_hint = ""

    def error(self, message: str) -> NoReturn:
        given = message.partition("unrecognized arguments: ")[2].split()
        if self.missing_hint and "arguments are required" in message:
            message = f"{message} {self.missing_hint}"
        elif given and all("=" in item and not item.startswith("-") for item in given):
            message += f" (values of the expression's names follow --set: --set {' '.join(given)})"
        super().error(message)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser, one subparser per `Command`."""
    parser = _Parser(
        prog=PROG, description="tinygrad_edu: an autograd engine for learning deep learning.")
    parser.add_argument("--version", action="version", version=f"{PROG} {tinygrad_edu.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run, command_name=command.name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad usage)."""
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message (or the help)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        _check_arguments(args)
        code: int = args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG} {args.command_name}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except UsageError as error:
        print(f"{PROG} {args.command_name}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped (`| head`): stop quietly, as other tools do
        with contextlib.suppress(OSError, ValueError):  # (a stdout with no file descriptor)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (what is left
            # to print goes nowhere, not to an error at exit)
        return 1
    except (RuntimeError, OSError, ValueError, ImportError) as error:
        print(f"{PROG} {args.command_name}: error: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
