"""The report's 70% graded in a browser: `bptt-grader review OUT` (a local web app over
OUT/review.sqlite that writes OUT/manual.csv for `merge`)."""
