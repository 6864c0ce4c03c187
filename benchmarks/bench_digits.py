"""The digits example side by side with scikit-learn's MLPClassifier and PyTorch (CPU, 1 thread).

Every contender trains the same network, 64 → 128 (ReLU) → 10, with Adam (lr 0.001, betas
0.9 and 0.999, eps 1e-8, no weight decay) on mini-batches of 32, for the same number of
epochs, on the same split of scikit-learn's digits (`datasets.load_digits(seed=0)`:
1,347 for training, 450 for testing, standardised), and is then scored on the test digits.

* tinygrad_edu: `MLP`, `cross_entropy`, `optim.Adam`, `DataLoader(shuffle=True, seed=r)`.
* PyTorch, float64 and float32: ``nn.Sequential(Linear, ReLU, Linear)``, ``F.cross_entropy``,
  ``torch.optim.Adam``, started from the *same* initial weights as tinygrad_edu's network and
  fed the *same* batches in the same order: in float64 its accuracy must equal ours (a check
  of the engine, printed under the table); float32 is what a PyTorch user gets by default.
* scikit-learn: ``MLPClassifier(hidden_layer_sizes=(128,), solver="adam", alpha=0,
  batch_size=32, learning_rate_init=0.001, max_iter=epochs, random_state=r)``, with its own
  initialisation (Glorot's) and its own shuffling; no early stopping.

The method: after one untimed epoch each (PyTorch initialises itself lazily), one round
trains every contender once from scratch (seed r of the round for the weights and batches),
in an order shuffled from round to round, so that a slow spell of a shared machine does not
fall on one contender only. A training run is timed in CPU time of
this thread (`time.thread_time`): time the scheduler gives to other processes is not counted.
numpy and PyTorch run one thread (the script re-runs itself with OPENBLAS_NUM_THREADS=1 and
friends; ``torch.set_num_threads(1)``). The table gives medians over the rounds: time per
epoch, its ratio to tinygrad_edu's in the same round, and test accuracy (with its range).

    python benchmarks/bench_digits.py [--rounds N] [--epochs E] [--quick]

A contender whose library is missing gets a row that says so (PyTorch:
``pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu``).
"""

from __future__ import annotations

import os
import sys

_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# the checkout this script lives in, not another installed copy of the package
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in _ENVIRONMENT.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **_ENVIRONMENT})

import argparse  # noqa: E402  (after the re-run above: numpy must see the environment)
import importlib  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

import tinygrad_edu  # noqa: E402
from tinygrad_edu.datasets import DataLoader, TrainTestSplit, load_digits  # noqa: E402
from tinygrad_edu.nn import MLP  # noqa: E402
from tinygrad_edu.optim import Adam  # noqa: E402
from tinygrad_edu.training import accuracy, train_classifier  # noqa: E402

HIDDEN = 128
LR = 1e-3
BATCH = 32
TORCH_HINT = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"

Train = Callable[[TrainTestSplit, int, int], float]
"""Train on the split for the epochs from seed r's start; return the test accuracy."""


@dataclass
class Contender:
    name: str
    train: Train | None
    missing: str = ""
    times: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)


def ours(split: TrainTestSplit, epochs: int, seed: int) -> float:
    model = MLP(64, [HIDDEN, 10], seed=seed)
    loader = DataLoader((split.X_train, split.y_train), BATCH, shuffle=True, seed=seed)
    train_classifier(model, loader, Adam(model.parameters(), lr=LR), epochs=epochs)
    return accuracy(model, split.X_test, split.y_test)


def torch_trainer(dtype_name: str) -> tuple[Train | None, str]:
    """PyTorch's run from tinygrad_edu's initial weights and batches; None without torch."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None, f"not installed ({TORCH_HINT})"
    torch.set_num_threads(1)
    functional = importlib.import_module("torch.nn.functional")
    dtype = getattr(torch, dtype_name)

    def train(split: TrainTestSplit, epochs: int, seed: int) -> float:
        start = MLP(64, [HIDDEN, 10], seed=seed)  # the same initial weights as ours
        model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(),
                                    torch.nn.Linear(HIDDEN, 10)).to(dtype)
        with torch.no_grad():
            for linear, layer in zip((model[0], model[2]), start.layers, strict=True):
                # (W's data is an array; no cast() call here: `train` is timed whole)
                linear.weight.copy_(torch.from_numpy(layer.W.data.T.copy()))  # type: ignore[union-attr]
                linear.bias.copy_(torch.from_numpy(layer.b.data))
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        X = split.X_train.astype(np.float64 if dtype_name == "float64" else np.float32)
        loader = DataLoader((X, split.y_train), BATCH, shuffle=True, seed=seed)
        for _ in range(epochs):
            for X_batch, y_batch in loader:
                loss = functional.cross_entropy(model(torch.from_numpy(X_batch)),
                                                torch.from_numpy(y_batch))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            test = torch.from_numpy(split.X_test).to(dtype)
            predicted = model(test).argmax(dim=1).numpy()
        return float(np.mean(predicted == split.y_test))

    return train, ""


def sklearn_trainer() -> tuple[Train | None, str]:
    try:
        neural_network = importlib.import_module("sklearn.neural_network")
    except ImportError:
        return None, "not installed (pip install -e '.[data]')"

    def train(split: TrainTestSplit, epochs: int, seed: int) -> float:
        model = neural_network.MLPClassifier(
            hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam", alpha=0.0,
            batch_size=BATCH, learning_rate_init=LR, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
            max_iter=epochs, shuffle=True, random_state=seed, tol=0.0,
            n_iter_no_change=epochs + 1, early_stopping=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "max_iter reached": we ask for exactly that
            model.fit(split.X_train, split.y_train)
        return float(model.score(split.X_test, split.y_test))

    return train, ""


def contenders() -> list[Contender]:
    found = [Contender("tinygrad_edu", ours)]
    for dtype in ("float64", "float32"):
        train, missing = torch_trainer(dtype)
        found.append(Contender(f"PyTorch {torch_version()} ({dtype}, 1 thread)", train, missing))
    train, missing = sklearn_trainer()
    found.append(Contender(f"scikit-learn {sklearn_version()} MLPClassifier", train, missing))
    return found


def torch_version() -> str:
    try:
        return str(importlib.import_module("torch").__version__).split("+")[0]
    except ImportError:
        return ""


def sklearn_version() -> str:
    try:
        return str(importlib.import_module("sklearn").__version__)
    except ImportError:
        return ""


def run_rounds(runners: list[Contender], split: TrainTestSplit, epochs: int,
               rounds: int) -> None:
    """One training run per contender per round, in a shuffled order; CPU time of this thread.
    Each contender first trains for one epoch untimed (imports, lazy initialisation)."""
    present = [c for c in runners if c.train is not None]
    for c in present:  # once untimed first: imports, lazy initialisation, caches
        assert c.train is not None
        c.train(split, 1, 0)
    order = list(present)
    shuffle = random.Random(0).shuffle
    for r in range(rounds):
        shuffle(order)
        for c in order:
            assert c.train is not None
            start = time.thread_time()
            right = c.train(split, epochs, r)
            c.times.append((time.thread_time() - start) / epochs)
            c.accuracies.append(right)


def table(runners: list[Contender], rounds: int, epochs: int) -> list[str]:
    base = runners[0]
    lines = [f"Digits, MLP 64-{HIDDEN}-10, Adam lr {LR:g}, batches of {BATCH}, {epochs} epochs; "
             f"medians over {rounds} rounds",
             "",
             "| contender | CPU time per epoch | × tinygrad_edu | test accuracy (median) | "
             "range over rounds |",
             "|---|---|---|---|---|"]
    for c in runners:
        if c.train is None:
            lines.append(f"| {c.name or 'PyTorch'} | {c.missing} | | | |")
            continue
        per_round = [t / b for t, b in zip(c.times, base.times, strict=True)]
        lines.append(f"| {c.name} | {1000 * statistics.median(c.times):.1f} ms | "
                     f"{statistics.median(per_round):.2f} | "
                     f"{100 * statistics.median(c.accuracies):.1f}% | "
                     f"{100 * min(c.accuracies):.1f}–{100 * max(c.accuracies):.1f}% |")
    twin = next((c for c in runners if "float64" in c.name and c.train is not None), None)
    if twin is not None:
        same = sum(a == b for a, b in zip(twin.accuracies, base.accuracies, strict=True))
        lines += ["", f"PyTorch float64 from the same weights and batches: the same test "
                      f"accuracy as tinygrad_edu in {same} of {rounds} rounds"]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds of 2 epochs: checks the script, its figures mean little")
    args = parser.parse_args(argv)
    rounds, epochs = (2, 2) if args.quick else (args.rounds, args.epochs)
    if rounds < 1 or epochs < 1:
        parser.error("--rounds and --epochs must be at least 1")
    print(f"tinygrad_edu {tinygrad_edu.__version__} ({os.path.dirname(tinygrad_edu.__file__)}), "
          f"numpy {np.__version__}, Python {sys.version.split()[0]}")
    try:
        split = load_digits(seed=0)
    except ImportError as error:
        sys.exit(f"bench_digits: {error}")
    runners = contenders()
    run_rounds(runners, split, epochs, rounds)
    print("\n".join(table(runners, rounds, epochs)))


if __name__ == "__main__":
    main()
