"""Runs the Lambda end-to-end suite and ends with a one-line summary.

    python3 tests/lambda-e2e/run.py            # uses MAILROOM_BOOTSTRAP or $CARGO_TARGET_DIR/debug/bootstrap
    python3 tests/lambda-e2e/run.py -k Fifo    # unittest's own options pass through
"""

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

if __name__ == "__main__":
    program = unittest.main(module=None, argv=[sys.argv[0], "discover", "-s", str(HERE), "-v", *sys.argv[1:]], exit=False)
    result = program.result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print(f"lambda-e2e: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
