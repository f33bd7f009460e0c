"""The entry point of every day script: parse the flags, run `main`, apply the error policy.

    if __name__ == "__main__":
        run_script(main, Args)

One policy for every day, run directly (`python 02_cnns_resnets/day_012_mnist.py ...`) or through
`arena run 12 ...`:
- a bad flag prints one line and exits 2 (`arena_core.utils.args.cli`);
- `--out-dir` is checked (created, writable) before any work starts;
- an error that is the user's to fix (`arena_core.errors.UserError`: no such device, data or model
  not installed, unsupported checkpoint, ...) prints one line `<prog>: error: <message>` on stderr
  and exits 2; the run directory's metrics.json says the run failed and why;
- Ctrl-C exits 130 after the run has said where its finished work is;
- anything else is a bug: its traceback is shown as usual;
- `--debug` (or env `ARENA_DEBUG=1`) shows the traceback of every error.
"""

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from arena_core.errors import UserError, debug_requested, one_line
from arena_core.utils.args import cli
from arena_core.utils.run import check_out_dir

T = TypeVar("T")


def run_script(
    main: Callable[[T], dict], args_cls: type[T], argv: Sequence[str] | None = None
) -> dict:
    """Parse `argv` into `args_cls`, run `main(args)` under the policy of the module docstring."""
    prog = os.path.basename(sys.argv[0])  # as argparse names it: the script, or "arena run N"
    args = cli(args_cls, argv)
    try:
        out_dir = getattr(args, "out_dir", None)
        if out_dir is not None:
            check_out_dir(Path(out_dir))
        return main(args)
    except UserError as err:
        if debug_requested(args):
            raise
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        if debug_requested(args):
            raise
        raise SystemExit(130) from None
