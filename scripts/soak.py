"""``make soak``: run the local cloud at a steady rate for SOAK_MINUTES and report records, iterator lag,
worker memory and the invariants (``sensorflow.localcloud.soak``). Exit 0 when every check holds, 1 when
one fails, 2 for bad flags or a stack that did not deploy."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from sensorflow.localcloud.cloud import STATE_DIR, project_root
from sensorflow.localcloud.faults.plan import FaultPlan, FaultPlanError
from sensorflow.localcloud.soak.options import (
    DEFAULT_MINUTES,
    DEFAULT_RATE,
    DEFAULT_SAMPLE_S,
    DEFAULT_SEED,
    SoakOptions,
)
from sensorflow.localcloud.soak.printout import print_report, write_files
from sensorflow.localcloud.soak.run import run_soak
from sensorflow.simulate import SimulationError

OK, FAILED, USAGE = 0, 1, 2


def _positive(what: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number; got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{what} must be more than 0; got {text!r}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line saying what is wrong, no usage block (as every sensorflow command does)."""
        self.exit(USAGE, f"soak: error: {message}\n")


def _plan(path: str) -> FaultPlan:
    try:
        return FaultPlan.from_file(path)
    except FaultPlanError as exc:
        raise argparse.ArgumentTypeError(f"(FAULTS) {exc}") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="soak", description=__doc__)
    parser.add_argument("--minutes", type=_positive("--minutes (SOAK_MINUTES)"), default=DEFAULT_MINUTES)
    parser.add_argument("--rate", type=_positive("--rate (SOAK_RATE, readings/s)"), default=DEFAULT_RATE)
    parser.add_argument(
        "--sample-every", type=_positive("--sample-every (seconds)"), default=DEFAULT_SAMPLE_S
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--faults",
        type=_plan,
        default=None,
        help="a fault plan (JSON, examples/faults/) applied to the functions' AWS calls while publishing",
    )
    parser.add_argument("--out", type=Path, default=None, help="where soak.csv / soak.json go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = SoakOptions(
        minutes=args.minutes,
        rate=args.rate,
        sample_every_s=args.sample_every,
        seed=args.seed,
        faults=args.faults,
    )
    try:
        result = run_soak(options, lambda line: print(line, flush=True))
    except SimulationError as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return USAGE
    if result is None:
        return USAGE
    print_report(result, lambda line: print(line, flush=True))
    csv_path, json_path = write_files(result, args.out or project_root() / STATE_DIR / "soak")
    print(f"samples in {csv_path}, summary in {json_path}")
    print("soak: ok" if result.ok else "soak: FAILED")
    return OK if result.ok else FAILED


if __name__ == "__main__":
    sys.exit(main())
