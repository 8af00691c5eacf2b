"""``python -m derivations [NAME ...] [--list] [--markdown]``: prove and check, print, exit 1 on failure."""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 = every selected check passed)."""
    start = time.perf_counter()
    parser = argparse.ArgumentParser(
        prog="python -m derivations",
        description="Prove every nnref gradient with SymPy and check it against nnref's own code.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="derivations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the names and titles, run nothing")
    parser.add_argument("--markdown", action="store_true", help="print each selected page's Markdown")
    args = parser.parse_args(argv)

    import derivations

    if args.list:
        for d in derivations.REGISTRY.values():
            print(f"{d.name:22s} chapter {d.chapter:2d}  {d.title}")
        return 0
    try:
        results = derivations.run_all(args.names or None)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.markdown:
        for r in results:
            print(derivations.render_markdown(r.name))
    else:
        print(derivations.render_table(results))
        if len(results) == 1 or any(not r.passed for r in results):
            for r in results:
                if len(results) == 1 or not r.passed:
                    print(f"\n{r.name}:")
                    for line in r.details:
                        print(f"  {line}")
    failed = [r.name for r in results if not r.passed]
    elapsed = time.perf_counter() - start
    print(f"\n{len(results) - len(failed)}/{len(results)} passed in {elapsed:.1f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
