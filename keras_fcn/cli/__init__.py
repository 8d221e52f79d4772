"""The `keras-fcn` command line: one entry point from data to a served model.

Subcommands: `demo` (offline, CPU: train on synthetic shapes, evaluate, export, serve once),
`train`, `evaluate`, `predict`, `export`, `convert`, `check-data`, `summary`, `models` and
`presets`. Run `keras-fcn SUBCOMMAND --help` for each one's flags and examples; it imports no
Keras. TensorFlow's native logs are off unless `--verbose` (`native_logs`). `evaluate`,
`predict` and `export` take a model file (`--model`) or a trained net of the original releases
(`--preset`; `keras-fcn presets`); `evaluate` and `predict` also score under a paper's test-time
protocol (`--protocol`, `--scales`, `--flip`, `--window`, `--stride`, `--merge`;
`keras_fcn.PROTOCOLS`) and DeepLab's dense CRF (`--crf`); `convert` writes a preset as a
`.keras` file. Every subcommand goes through the library's own functions (`keras_fcn.data`,
`keras_fcn.training`, `keras_fcn.evaluate`, `keras_fcn.export`, `keras_fcn.from_preset`). The
package parses (`arguments`) and dispatches (`commands`); the library does the work.
"""

import argparse
import contextlib
import sys

from keras_fcn.cli.arguments import build_parser, train_parser
from keras_fcn.cli.commands import training_run
from keras_fcn.cli.errors import Interrupted, UsageError, data_problem
from keras_fcn.cli.native_logs import quiet_native_logs
from keras_fcn.downloads import DownloadError

__all__ = ["UsageError", "build_parser", "main", "train_parser", "training_run"]


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    with contextlib.nullcontext() if args.verbose else quiet_native_logs():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        status = args.handler(args)
    except (UsageError, ValueError, FileNotFoundError, FileExistsError, DownloadError) as error:
        print(f"keras-fcn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"keras-fcn {args.command}: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interruption:
        message = interruption if isinstance(interruption, Interrupted) else "interrupted"
        print(f"keras-fcn {args.command}: {message}", file=sys.stderr)
        return 130  # 128 + SIGINT, as shells report a command that Ctrl-C stopped
    except Exception as error:
        problem = data_problem(error)
        if problem is None:
            raise
        print(f"keras-fcn {args.command}: error: {problem}", file=sys.stderr)
        return 2
    return status or 0
