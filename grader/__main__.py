"""`python -m grader` is `bptt-grader`."""

from grader.cli import main

raise SystemExit(main())
