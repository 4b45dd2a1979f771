# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The command lines of ``tools/``: one module per script, each with
``main(argv=None)``, which the script calls and the tests call in-process.
What they share (flags, the runner, how known failures end the process) is
in :mod:`van_mm.cli.common`. Library code does not import this package."""
